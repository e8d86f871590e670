import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCORE_AGGREGATORS, chiSquareCdf, type AggregatorName } from '../src/index.js';

/** fixtures/multilayer_reference.py: oodeel's aggregator formulas in numpy/scipy. */
const ref = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'multilayer-reference.json'), 'utf8')) as {
  aggregators: Record<string, { fit: number[][]; test: number[][] } & Record<AggregatorName, number[]>>;
  chi2: [number, number, number][];
};

describe('chi-square CDF', () => {
  it('agrees with scipy.stats.chi2.cdf for real degrees of freedom', () => {
    for (const [x, k, p] of ref.chi2) expect(Math.abs(chiSquareCdf(x, k) - p)).toBeLessThan(1e-12);
  });
});

describe('score aggregators (oodeel)', () => {
  for (const name of Object.keys(SCORE_AGGREGATORS) as AggregatorName[]) {
    it.each(Object.keys(ref.aggregators))(`${name} on %s confidences agrees with numpy`, (key) => {
      const c = ref.aggregators[key]!;
      const agg = SCORE_AGGREGATORS[name]();
      agg.fit(c.fit.map((l) => Float64Array.from(l)));
      const fused = agg.aggregate(c.test.map((l) => Float64Array.from(l)));
      expect(fused.length).toBe(c[name].length);
      fused.forEach((v, i) => expect(Math.abs(v - c[name][i]!)).toBeLessThan(1e-9 * Math.max(1, Math.abs(c[name][i]!))));
    });
  }

  it('std_normalized by hand: layer scores divided by their ID std, averaged', () => {
    const agg = SCORE_AGGREGATORS.std_normalized();
    // layer 0 ID s = −conf = {1, 3}: std 1; layer 1 s = {2, 6}: std 2
    agg.fit([Float64Array.from([-1, -3]), Float64Array.from([-2, -6])]);
    const [v] = agg.aggregate([Float64Array.from([-4]), Float64Array.from([-4])]);
    expect(v).toBeCloseTo(-(4 / (1 + 1e-10) + 4 / (2 + 1e-10)) / 2, 12);
  });

  it('fisher ranks a sample below every ID confidence on all layers as most OOD', () => {
    const agg = SCORE_AGGREGATORS.fisher();
    const fit = [Float64Array.from({ length: 50 }, (_, i) => -i), Float64Array.from({ length: 50 }, (_, i) => -2 * ((i * 7) % 50))];
    agg.fit(fit);
    const [inside, outside] = agg.aggregate([Float64Array.from([-10, -1000]), Float64Array.from([-20, -5000])]);
    expect(outside!).toBeLessThan(inside!);
  });

  it('refuses to aggregate before fit and mismatched layer counts', () => {
    const agg = SCORE_AGGREGATORS.mean_normalized();
    expect(() => agg.aggregate([Float64Array.from([1])])).toThrow(/before fit/);
    agg.fit([Float64Array.from([-1, -2])]);
    expect(() => agg.aggregate([Float64Array.from([1]), Float64Array.from([1])])).toThrow(/fitted on 1 layers, given 2/);
  });
});
