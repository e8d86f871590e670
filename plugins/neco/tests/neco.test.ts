import { initCompute, tf } from '@oodkit/compute';
import type { FeatureSplit, FinalLayer } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import necoModule, { fitNeco, necoDefinition, NecoPostprocessor } from '../src/index.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const layer = (weight: number[], bias: number[], c: number, d: number): FinalLayer => ({
  numClasses: c,
  featureDim: d,
  weight: Float32Array.from(weight),
  bias: Float32Array.from(bias),
});
const split = (features: number[], dim: number): FeatureSplit => ({
  name: 'train',
  count: features.length / dim,
  dim,
  features: Float32Array.from(features),
  labels: new Int32Array(features.length / dim),
});

// Train = every sign pattern (u, v, w) ∈ {±1}³ mapped to z = (10 + 2u, 5 + u + v, −3 + w/2).
// Means (10, 5, −3), population stds (2, √2, 1/2) → standardised x = (u, (u + v)/√2, w), whose
// covariance is the correlation matrix [[1, r, 0], [r, 1, 0], [0, 0, 1]] with r = 1/√2:
// eigenvalues 1 + r > 1 > 1 − r with directions (1, 1, 0)/√2, (0, 0, 1), (1, −1, 0)/√2.
const train: number[] = [];
for (const u of [1, -1]) for (const v of [1, -1]) for (const w of [1, -1]) train.push(10 + 2 * u, 5 + u + v, -3 + w / 2);
const standardise = (z: number[]) => [(z[0] - 10) / 2, (z[1] - 5) / Math.SQRT2, (z[2] + 3) / 0.5];
const norm = (v: number[]) => Math.hypot(...v);
/** NECO by hand: projections on the known principal directions. */
const expected = (z: number[], dim: number) => {
  const x = standardise(z);
  const coords = [(x[0] + x[1]) / Math.SQRT2, x[2], (x[0] - x[1]) / Math.SQRT2];
  return norm(coords.slice(0, dim)) / norm(x);
};
// Final layer: two classes reading z₁ and z₃.
const fc = layer([1, 0, 0, 0, 0, 1], [0, 1], 2, 3);
const queries = [
  [12, 4, -2],
  [9, 7, -3.25],
  [10, 5, -1],
];

describe('neco', () => {
  it('fits StandardScaler + PCA exactly (closed form above)', () => {
    const { scaler, eigen } = fitNeco(Float32Array.from(train), 8, 3);
    expect(Array.from(scaler.mean)).toEqual([10, 5, -3]);
    [2, Math.SQRT2, 0.5].forEach((s, j) => expect(scaler.scale[j]).toBeCloseTo(s, 12));
    const r = Math.SQRT1_2;
    [1 - r, 1, 1 + r].forEach((l, k) => expect(eigen.values[k]).toBeCloseTo(l, 10));
    // leading direction ∥ (1, 1, 0)
    const lead = [0, 1, 2].map((i) => eigen.vectors[i * 3 + 2]);
    expect(Math.abs(lead[0] + lead[1]) / Math.SQRT2).toBeCloseTo(1, 10);
  });

  it('conf = ‖P_dim x‖ / ‖x‖ for every dim, re-derived when dim changes; pred = argmax logits', async () => {
    const pp = new NecoPostprocessor(necoDefinition.args, { dim: 1, max_logit: false });
    await pp.setup({ finalLayer: fc }, { train: split(train, 3) });
    const q = tf.tensor2d(queries.flat(), [3, 3]);
    const before = tf.memory().numTensors;
    for (const dim of [1, 2, 3]) {
      await pp.setHyperparameters({ dim });
      const r = await pp.score({ features: q });
      queries.forEach((z, i) => expect(r.conf[i]).toBeCloseTo(expected(z, dim), 5));
      expect(Array.from(r.pred)).toEqual(queries.map((z) => (z[0] >= z[2] + 1 ? 0 : 1)));
    }
    expect(tf.memory().numTensors).toBe(before); // re-deriving replaces the components, leaks nothing
    q.dispose();
    pp.dispose();
  });

  it('max_logit multiplies the ratio by the largest logit; x = 0 scores 1', async () => {
    const pp = new NecoPostprocessor(necoDefinition.args, { dim: 2, max_logit: true });
    await pp.setup({ finalLayer: fc }, { train: split(train, 3) });
    const zs = [...queries, [10, 5, -3]];
    const q = tf.tensor2d(zs.flat(), [4, 3]);
    const r = await pp.score({ features: q });
    zs.forEach((z, i) => {
      const ratio = i === 3 ? 1 : expected(z, 2);
      expect(r.conf[i]).toBeCloseTo(ratio * Math.max(z[0], z[2] + 1), 4);
    });
    q.dispose();
    pp.dispose();
  });

  it('constant features keep scale 1 (StandardScaler) and dim ≥ D collapses to one grid point', async () => {
    const withConstant = [];
    for (let i = 0; i < 8; i++) withConstant.push(train[i * 3], train[i * 3 + 1], 7);
    const { scaler } = fitNeco(Float32Array.from(withConstant), 8, 3);
    expect(scaler.scale[2]).toBe(1);
    const pp = new NecoPostprocessor(necoDefinition.args, necoDefinition.args.parse({}));
    await pp.setup({ finalLayer: fc }, { train: split(train, 3) });
    expect(pp.searchGrid(necoDefinition.grid as never)).toEqual({ dim: [3] });
    const q = tf.tensor2d(queries.flat(), [3, 3]);
    const r = await pp.score({ features: q }); // default dim 100 ≥ D = 3: all components, ratio 1
    r.conf.forEach((c) => expect(c).toBeCloseTo(1, 5));
    q.dispose();
    pp.dispose();
  });

  it('bad input: no train split, one sample', async () => {
    const pp = new NecoPostprocessor(necoDefinition.args, { dim: 1, max_logit: false });
    await expect(pp.setup({ finalLayer: fc }, {})).rejects.toThrow(/neco fits on the ID train split/);
    await expect(pp.setup({ finalLayer: fc }, { train: split([1, 2, 3], 3) })).rejects.toThrow(/at least 2 samples/);
  });

  it('exports a ContainerModule as default', () => {
    expect(typeof necoModule.load).toBe('function');
  });
});
