import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { l2Normalize, NeighbourBank } from '../src/math/neighbors.js';
import { knnDefinition, KnnPostprocessor } from '../src/postprocessors/knn.js';
import { clusteredSplit, gaussianRows, layer, randomLayer, split } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/** Independent O(N·M) reference: −(K-th smallest squared distance) between L2-normalised rows, float64. */
function naiveKnn(train: Float32Array, queries: Float32Array, dim: number, k: number): number[] {
  const norm = (src: Float32Array, i: number): number[] => {
    const row = Array.from(src.subarray(i * dim, (i + 1) * dim));
    const r = Math.hypot(...row);
    return row.map((v) => v / r);
  };
  const bank = Array.from({ length: train.length / dim }, (_, i) => norm(train, i));
  return Array.from({ length: queries.length / dim }, (_, i) => {
    const q = norm(queries, i);
    const d = bank.map((x) => x.reduce((acc, v, j) => acc + (v - q[j]) ** 2, 0)).sort((a, b) => a - b);
    return -d[k - 1];
  });
}

describe('knn', () => {
  it('hand case: squared distances on the unit circle', async () => {
    const pp = new KnnPostprocessor(knnDefinition.args, { K: 1 });
    await pp.setup({ finalLayer: layer([1, 0, 0, 1], [0, 0], 2, 2) }, { train: split('train', [1, 0, 0, 1, -1, 0], [0, 1, 0], 2) });
    const q = tf.tensor2d([2, 0, 0, -3], [2, 2]);
    const expectK = async (k: number, want: number[]) => {
      await pp.setHyperparameters({ K: k });
      const r = await pp.score({ features: q });
      expect(Array.from(r.conf)).toEqual(want.map((v) => expect.closeTo(v, 6)));
    };
    // (2,0) → (1,0): distances² to (1,0),(0,1),(−1,0) = 0, 2, 4; (0,−3) → (0,−1): 2, 4, 2.
    await expectK(1, [0, -2]);
    await expectK(2, [-2, -2]);
    await expectK(3, [-4, -4]);
    expect(Array.from((await pp.score({ features: q })).pred)).toEqual([0, 0]);
    q.dispose();
    pp.dispose();
  });

  it('agrees with a brute-force loop for every K of a small grid, and does not leak tensors', async () => {
    const rng = Rng.fromSeed(7);
    const d = 12;
    const train = clusteredSplit(rng.derive('train'), 'train', 257, 4, d, true);
    const queries = gaussianRows(rng.derive('q'), 37, d, 0.5, 1.5);
    const pp = new KnnPostprocessor(knnDefinition.args, knnDefinition.args.parse({}));
    await pp.setup({ finalLayer: randomLayer(rng.derive('layer'), 4, d) }, { train });
    const before = tf.memory().numTensors;
    const q = tf.tensor2d(queries, [37, d]);
    for (const k of [1, 5, 50, 257]) {
      await pp.setHyperparameters({ K: k });
      const r = await pp.score({ features: q });
      const want = naiveKnn(train.features, queries, d, k);
      r.conf.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    }
    q.dispose();
    expect(tf.memory().numTensors).toBe(before);
    pp.dispose();
  });

  it('blocked search merges blocks exactly (bank split into blocks smaller than K)', () => {
    const rng = Rng.fromSeed(11);
    const d = 5;
    const train = gaussianRows(rng, 100, d);
    const queries = gaussianRows(rng.derive('q'), 9, d);
    const t = tf.tensor2d(train, [100, d]);
    const normed = l2Normalize(t);
    const bank = new NeighbourBank(normed, 'neg_squared_l2', 7);
    const q = tf.tensor2d(queries, [9, d]);
    const qn = l2Normalize(q);
    const top = bank.topK(qn, 20, 4);
    const values = top.arraySync();
    for (const k of [1, 10, 20]) {
      const want = naiveKnn(train, queries, d, k);
      values.forEach((row, i) => expect(row[k - 1]).toBeCloseTo(want[i], 5));
    }
    // inner-product bank: top values are the largest dot products, sorted
    const ipBank = new NeighbourBank(t, 'inner_product', 16);
    const ip = ipBank.topK(q, 3).arraySync();
    for (let i = 0; i < 9; i++) {
      const dots = Array.from({ length: 100 }, (_, r) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += train[r * d + j] * queries[i * d + j];
        return s;
      }).sort((a, b) => b - a);
      ip[i].forEach((v, j) => expect(v).toBeCloseTo(dots[j], 4));
    }
    for (const x of [t, normed, q, qn, top]) x.dispose();
    bank.dispose();
    ipBank.dispose();
    expect(() => new NeighbourBank(tf.zeros([3, 2]) as never, 'inner_product').topK(tf.zeros([1, 2]) as never, 4)).toThrow(/k = 4/);
  });

  it('caps K at the train size and deduplicates the search grid', async () => {
    const pp = new KnnPostprocessor(knnDefinition.args, { K: 1000 });
    await pp.setup({ finalLayer: layer([1, 0, 0, 1], [0, 0], 2, 2) }, { train: split('train', [1, 0, 0, 1, -1, 0], [0, 1, 0], 2) });
    expect(pp.effectiveK).toBe(3);
    expect(pp.searchGrid(knnDefinition.grid as never)).toEqual({ K: [3] });
    pp.dispose();
    await expect(new KnnPostprocessor(knnDefinition.args, { K: 1 }).setup({ finalLayer: layer([1, 0], [0], 1, 2) }, {})).rejects.toThrow(
      /train/,
    );
  });
});
