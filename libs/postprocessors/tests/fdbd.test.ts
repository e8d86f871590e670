import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fdbdDefinition, FdbdPostprocessor, inverseBoundaryDenominators } from '../src/postprocessors/fdbd.js';
import { gaussianRows, layer, logitsRow, randomLayer, split } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

// W rows (1,0), (0,1), (0,0), b = 0; train mean μ = (2, 1). Query z = (2, 3): logits (2, 3, 0), pred 1.
const fl = layer([1, 0, 0, 1, 0, 0], [0, 0, 0], 3, 2);
const train = split('train', [1, 1, 3, 1], [0, 1], 2);

describe('fdbd', () => {
  it('hand case: Σ|ℓ_c − ℓ_pred|/‖w_c − w_pred‖ over ‖z − μ‖, and over ‖z‖', async () => {
    const pp = new FdbdPostprocessor(fdbdDefinition.args, fdbdDefinition.args.parse({}));
    await pp.setup({ finalLayer: fl }, { train });
    const q = tf.tensor2d([2, 3], [1, 2]);
    const sum = 1 / Math.SQRT2 + 3 / 1;
    let r = await pp.score({ features: q });
    expect(r.pred[0]).toBe(1);
    expect(r.conf[0]).toBeCloseTo(sum / 2, 6);
    await pp.setHyperparameters({ distance_as_normalizer: false });
    r = await pp.score({ features: q });
    expect(r.conf[0]).toBeCloseTo(sum / Math.sqrt(13), 6);
    q.dispose();
    pp.dispose();
  });

  it('agrees with the geometric definition (distance of z to each boundary) on random data', async () => {
    const rng = Rng.fromSeed(5);
    const c = 5;
    const d = 7;
    const rl = randomLayer(rng, c, d);
    const tr = split('train', gaussianRows(rng, 30, d, 1), Array(30).fill(0), d);
    const feats = gaussianRows(rng.derive('q'), 4, d, 0.5);
    const pp = new FdbdPostprocessor(fdbdDefinition.args, { distance_as_normalizer: true });
    await pp.setup({ finalLayer: rl }, { train: tr });
    const q = tf.tensor2d(feats, [4, d]);
    const r = await pp.score({ features: q });
    const mu = Array.from(
      { length: d },
      (_, j) => Array.from({ length: 30 }, (_, i) => tr.features[i * d + j]).reduce((a, b) => a + b, 0) / 30,
    );
    for (let i = 0; i < 4; i++) {
      const l = logitsRow(rl, feats, i * d);
      const p = l.indexOf(Math.max(...l));
      let s = 0;
      for (let k = 0; k < c; k++) {
        if (k === p) continue;
        // distance from z to the hyperplane ℓ_k = ℓ_p
        const wd = Array.from({ length: d }, (_, j) => rl.weight[k * d + j] - rl.weight[p * d + j]);
        s += Math.abs(l[k] - l[p]) / Math.hypot(...wd);
      }
      const norm = Math.hypot(...Array.from({ length: d }, (_, j) => feats[i * d + j] - mu[j]));
      expect(r.pred[i]).toBe(p);
      expect(r.conf[i]).toBeCloseTo(s / norm, 4);
    }
    expect(Array.from(inverseBoundaryDenominators([1, 0, 0, 1], 2, 2))).toEqual([
      1,
      Math.fround(1 / Math.SQRT2),
      Math.fround(1 / Math.SQRT2),
      1,
    ]);
    q.dispose();
    pp.dispose();
  });
});
