import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { empiricalCovariance, rowsOf, scatterAbout } from '../src/math/covariance.js';
import { gaussianRows } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

describe('covariances on the wasm backend (float64 Gram kernel) equal the JavaScript route', () => {
  it('empiricalCovariance and scatterAbout, D not a multiple of 4, several row blocks', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const n = 700;
    const d = 37;
    const x = gaussianRows(Rng.fromSeed(71), n, d, 2);
    const centre = Float64Array.from({ length: d }, (_, j) => 0.1 * j - 1);
    const onWasm = [empiricalCovariance(rowsOf(x, n, d)), scatterAbout(rowsOf(x, n, d), centre)];
    await tf.setBackend('cpu');
    let onJs: Float64Array[];
    try {
      onJs = [empiricalCovariance(rowsOf(x, n, d)), scatterAbout(rowsOf(x, n, d), centre)];
    } finally {
      await tf.setBackend('wasm');
    }
    for (let m = 0; m < 2; m++) {
      for (let i = 0; i < d * d; i++) expect(Math.abs(onWasm[m]![i]! - onJs[m]![i]!)).toBeLessThan(1e-12 * (1 + Math.abs(onJs[m]![i]!)));
    }
    // symmetric, and the about-centre form is the covariance plus (mean − c)(mean − c)ᵀ
    const mean = new Float64Array(d);
    for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j] += x[r * d + j]! / n;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        expect(onWasm[0]![i * d + j]).toBe(onWasm[0]![j * d + i]);
        const want = onWasm[0]![i * d + j]! + (mean[i]! - centre[i]!) * (mean[j]! - centre[j]!);
        expect(onWasm[1]![i * d + j]).toBeCloseTo(want, 10);
      }
    }
  });
});
