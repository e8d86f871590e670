import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { blockProduct, l2Normalize, NeighbourBank } from '../src/math/neighbors.js';
import { gaussianRows } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

describe('exact neighbour search on the wasm backend (1×1-convolution products)', () => {
  it('blockProduct equals q·Xᵀ computed in float64', () => {
    expect(tf.getBackend()).toBe('wasm');
    const rng = Rng.fromSeed(61);
    const q = gaussianRows(rng, 13, 24);
    const x = gaussianRows(rng.derive('x'), 37, 24);
    const qt = tf.tensor2d(q, [13, 24]);
    const cols = tf.tidy(() => tf.tensor2d(x, [37, 24]).transpose() as tf.Tensor2D);
    const p = blockProduct(qt, cols).arraySync();
    for (let i = 0; i < 13; i++) {
      for (let r = 0; r < 37; r++) {
        let s = 0;
        for (let j = 0; j < 24; j++) s += q[i * 24 + j] * x[r * 24 + j];
        expect(p[i][r]).toBeCloseTo(s, 4);
      }
    }
    qt.dispose();
    cols.dispose();
  });

  it('K-th squared distances match a brute-force loop across several blocks', () => {
    const rng = Rng.fromSeed(62);
    const d = 16;
    const train = gaussianRows(rng, 90, d, 0.3);
    const queries = gaussianRows(rng.derive('q'), 11, d, 0.3);
    const t = tf.tensor2d(train, [90, d]);
    const normed = l2Normalize(t);
    const bank = new NeighbourBank(normed, 'neg_squared_l2', 32);
    const q = tf.tensor2d(queries, [11, d]);
    const qn = l2Normalize(q);
    const top = bank.topK(qn, 40, 5).arraySync();
    const unit = (src: Float32Array, i: number) => {
      const row = Array.from(src.subarray(i * d, (i + 1) * d));
      const r = Math.hypot(...row);
      return row.map((v) => v / r);
    };
    for (let i = 0; i < 11; i++) {
      const qi = unit(queries, i);
      const dist = Array.from({ length: 90 }, (_, r) => unit(train, r).reduce((a, v, j) => a + (v - qi[j]) ** 2, 0)).sort((a, b) => a - b);
      for (const k of [1, 7, 40]) expect(top[i][k - 1]).toBeCloseTo(-dist[k - 1], 5);
    }
    for (const x of [t, normed, q, qn]) x.dispose();
    bank.dispose();
  });
});
