import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { empiricalCovariance, rowsOf, scatterAbout } from '../src/math/covariance.js';
import { symmetricEigen, symmetricEigenJs } from '../src/math/eigen.js';
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

  it('symmetricEigen on wasm (csrc/eigen.c) equals the JavaScript route on a 101×101 covariance', () => {
    const n = 300;
    const d = 101;
    const x = gaussianRows(Rng.fromSeed(72), n, d, 1);
    const cov = empiricalCovariance(rowsOf(x, n, d));
    const wasm = symmetricEigen(cov, d);
    const js = symmetricEigenJs(cov, d);
    const scale = Math.abs(js.values[d - 1]!);
    for (let k = 0; k < d; k++) {
      expect(Math.abs(wasm.values[k]! - js.values[k]!)).toBeLessThan(1e-12 * scale);
      let dot = 0;
      for (let i = 0; i < d; i++) dot += wasm.vectors[i * d + k]! * js.vectors[i * d + k]!;
      expect(Math.abs(Math.abs(dot) - 1)).toBeLessThan(1e-8);
    }
  });
});
