import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fitHighTail, fitWeibull, weibullCdf, wScore } from '../src/math/weibull.js';
import { openmaxDefinition, OpenmaxPostprocessor, openmaxProbabilities, type OpenmaxClassModel } from '../src/postprocessors/openmax.js';
import { clusteredSplit, gaussianRows, layer, split } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

function weibullSample(rng: Rng, n: number, scale: number, shape: number): Float64Array {
  return Float64Array.from({ length: n }, () => scale * (-Math.log(1 - rng.uniform())) ** (1 / shape));
}

describe('Weibull MLE (libMR weibull_fit)', () => {
  it.each([
    [2, 1.5],
    [0.3, 4],
    [10050, 800],
  ])('recovers scale %s and shape %s from 4000 samples', (scale, shape) => {
    const x = weibullSample(Rng.fromSeed(Math.round(scale * 7 + shape)), 4000, scale, shape);
    const w = fitWeibull(x);
    expect(Math.abs(w.scale / scale - 1)).toBeLessThan(0.02);
    expect(Math.abs(w.shape / shape - 1)).toBeLessThan(0.05);
  });

  it('solves the likelihood equations exactly: 1/k + mean ln x = Σxᵏ ln x / Σxᵏ and λᵏ = mean xᵏ', () => {
    const x = weibullSample(Rng.fromSeed(2), 50, 3, 2.2);
    const { scale, shape } = fitWeibull(x);
    let sk = 0;
    let skl = 0;
    let sl = 0;
    for (const v of x) {
      sk += v ** shape;
      skl += v ** shape * Math.log(v);
      sl += Math.log(v);
    }
    expect(1 / shape + sl / x.length - skl / sk).toBeCloseTo(0, 10);
    expect(scale ** shape / (sk / x.length)).toBeCloseTo(1, 10);
  });

  it('fit_high translates the tail to start at 10000 and w_score is the CDF there', () => {
    const dists = [0.5, 3, 1, 2.5, 7, 4, 0.1, 6];
    const m = fitHighTail(dists, 5);
    expect(m.smallScore).toBe(2.5);
    const direct = fitWeibull([7, 6, 4, 3, 2.5].map((v) => v + 10000 - 2.5));
    expect(m.scale).toBe(direct.scale);
    expect(m.shape).toBe(direct.shape);
    expect(wScore(m, 2.5)).toBe(weibullCdf(m, 10000));
    // monotone and in [0, 1]; far beyond the tail → 1, far below → 0
    expect(wScore(m, 0)).toBeLessThan(wScore(m, 5));
    expect(wScore(m, 50)).toBeCloseTo(1, 12);
    expect(wScore(m, -20000)).toBe(0);
    expect(() => fitWeibull([2, 2, 2])).toThrow(/equal/);
    expect(() => fitWeibull([1, -1])).toThrow(/> 0/);
  });
});

describe('openmax', () => {
  it('recalibration by hand for a 3-class vector with fixed Weibull tails', () => {
    // Tails whose w-score is a known closed form: scale 10000, shape 1, smallScore 0 → w(d) = 1 − e^{−(d+10000)/10000}.
    const tail = { scale: 10000, shape: 1, smallScore: 0, translate: 10000 };
    const classes: OpenmaxClassModel[] = [
      { mav: Float64Array.from([3, 0, 0]), weibull: tail },
      { mav: Float64Array.from([0, 3, 0]), weibull: tail },
      { mav: Float64Array.from([0, 0, 3]), weibull: tail },
    ];
    const s = [2, 1, -1];
    const probs = openmaxProbabilities(s, classes, 2);
    const w = (d: number) => 1 - Math.exp(-(d + 10000) / 10000);
    const d = [Math.hypot(-1, 1, -1), Math.hypot(2, -2, -1), Math.hypot(2, 1, -4)];
    // ranks: class 0 (ω = 1), class 1 (ω = ½), class 2 (ω = 0)
    const hat = [2 * (1 - w(d[0])), 1 * (1 - 0.5 * w(d[1])), -1];
    const unknown = s.reduce((a, v, k) => a + v - hat[k], 0);
    const e = [...hat, unknown].map(Math.exp);
    const total = e.reduce((a, b) => a + b, 0);
    e.forEach((v, k) => expect(probs[k]).toBeCloseTo(v / total, 12));
  });

  it('fits MAVs/tails from correctly classified train logits; ID scores above far-away OOD; OpenOOD pred rule', async () => {
    const rng = Rng.fromSeed(51);
    const d = 4;
    const c = 3;
    const train = clusteredSplit(rng.derive('t'), 'train', 300, c, d);
    // W: least squares-free choice — class centres as weights make most train samples correct.
    const centres = Array.from({ length: c }, (_, k) =>
      Array.from({ length: d }, (_, j) => {
        let s = 0;
        let n = 0;
        for (let i = k; i < 300; i += c) {
          s += train.features[i * d + j];
          n++;
        }
        return s / n;
      }),
    );
    const fl = layer(centres.flat(), [0, 0, 0], c, d);
    const pp = new OpenmaxPostprocessor(openmaxDefinition.args, openmaxDefinition.args.parse({}));
    await pp.setup({ finalLayer: fl }, { train });
    expect(pp.classModels).toHaveLength(c);
    for (const m of pp.classModels) {
      expect(m.weibull.shape).toBeGreaterThan(0);
      expect(m.weibull.scale).toBeGreaterThan(10000);
    }
    const id = tf.tensor2d(train.features.subarray(0, 30 * d), [30, d]);
    const ood = tf.tensor2d(gaussianRows(rng.derive('ood'), 30, d, 0, 12), [30, d]);
    const rid = await pp.score({ features: id });
    const rood = await pp.score({ features: ood });
    const mean = (a: Float64Array) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(rid.conf)).toBeGreaterThan(mean(rood.conf));
    for (const [r, x] of [
      [rid, id],
      [rood, ood],
    ] as const) {
      const logits = tf.tidy(() => tf.add(tf.matMul(x, tf.tensor2d(fl.weight, [c, d]), false, true), tf.tensor1d(fl.bias)));
      const rows = (await logits.array()) as number[][];
      logits.dispose();
      rows.forEach((row, i) => {
        const probs = openmaxProbabilities(row, pp.classModels, 3);
        // conf is minus the unknown class's probability; pred = argmax if its probability ≥ 0.9, else C − 1
        expect(r.conf[i]).toBeCloseTo(-probs[c], 6);
        const best = probs.indexOf(Math.max(...probs));
        expect(r.pred[i]).toBe(probs[best] >= 0.9 ? best : c - 1);
      });
    }
    const before = pp.classModels[0].weibull;
    await pp.setHyperparameters({ tailsize: 5 });
    expect(pp.classModels[0].weibull.shape).not.toBe(before.shape);
    expect(pp.classModels[0].weibull.smallScore).toBeGreaterThan(before.smallScore);
    id.dispose();
    ood.dispose();
    pp.dispose();
  });

  it('a class with fewer than two correctly classified train samples is a clear error', async () => {
    const pp = new OpenmaxPostprocessor(openmaxDefinition.args, openmaxDefinition.args.parse({}));
    const fl = layer([1, 0, 0, 1], [0, 0], 2, 2);
    await expect(pp.setup({ finalLayer: fl }, { train: split('train', [2, 0, 3, 0, 5, 0, 0, 1], [0, 0, 0, 1], 2) })).rejects.toThrow(
      /class 1 has 1/,
    );
  });
});
