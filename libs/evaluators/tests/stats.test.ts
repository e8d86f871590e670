import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  frechetDistance,
  gaussianMoments,
  logGamma,
  pairedTTest,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTTwoSided,
} from '../src/index.js';

/** Written by fixtures/make_stats_reference.py (scipy.stats.t, scipy.stats.ttest_rel, scipy.linalg.sqrtm). */
const reference = JSON.parse(readFileSync(new URL('./fixtures/stats-reference.json', import.meta.url), 'utf8')) as {
  t_cdf: { t: number; df: number; cdf: number; two_sided: number }[];
  paired: { control: number[]; treatment: number[]; t: number; p: number }[];
  frechet: {
    dim: number;
    a?: number[][];
    b?: number[][];
    mean_a: number[];
    cov_a: number[];
    mean_b?: number[];
    cov_b?: number[];
    distance: number;
    self: number;
  }[];
};

const close = (actual: number, expected: number, rel: number, abs = 1e-300) =>
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(Math.max(abs, rel * Math.abs(expected)));

describe('Student t distribution', () => {
  it('ln Γ matches known values', () => {
    close(logGamma(1), 0, 0, 1e-14);
    close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14);
    close(logGamma(10), Math.log(362880), 1e-14);
    close(logGamma(0.1), Math.log(9.513507698668732), 1e-13);
  });

  it('I_x(a, b) has its closed forms: I_x(1, 1) = x, I_x(a, 1) = xᵃ, and the symmetry 1 − I_{1−x}(b, a)', () => {
    for (const x of [0.01, 0.3, 0.7, 0.99]) {
      close(regularizedIncompleteBeta(x, 1, 1), x, 1e-14);
      close(regularizedIncompleteBeta(x, 3.5, 1), x ** 3.5, 1e-13);
      close(regularizedIncompleteBeta(x, 2.5, 4), 1 - regularizedIncompleteBeta(1 - x, 4, 2.5), 1e-13, 1e-15);
    }
    expect(() => regularizedIncompleteBeta(1.5, 1, 1)).toThrow(/\[0, 1\]/);
  });

  it('CDF and two-sided tail agree with scipy.stats.t on every fixture point', () => {
    expect(reference.t_cdf.length).toBeGreaterThan(100);
    for (const { t, df, cdf, two_sided } of reference.t_cdf) {
      // relative on tails (values down to 1e-20 keep their digits), absolute near 1
      close(studentTCdf(t, df), cdf, 1e-11, 1e-15);
      close(studentTTwoSided(t, df), two_sided, 1e-11, 1e-15);
    }
  });

  it('df = 1 is the Cauchy distribution and df = 2 has its closed form', () => {
    for (const t of [-3, -0.5, 0, 1.7, 25]) {
      close(studentTCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-13, 1e-15);
      close(studentTCdf(t, 2), 0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-13, 1e-15);
    }
  });
});

describe('paired t-test', () => {
  it('equals scipy.stats.ttest_rel(treatment, control)', () => {
    for (const { control, treatment, t, p } of reference.paired) {
      const r = pairedTTest(control, treatment);
      close(r.t, t, 1e-10);
      close(r.p, p, 1e-9);
      expect(r.df).toBe(control.length - 1);
      expect(r.signs).toEqual(treatment.map((v, i) => Math.sign(v - control[i]!)));
    }
  });

  it('hand example: deltas 1, 2, 3 → t = 2/(1/√3) = 3.4641, p = 0.0742 (df 2)', () => {
    const r = pairedTTest([10, 10, 10], [11, 12, 13]);
    close(r.meanDelta, 2, 1e-15);
    close(r.sdDelta, 1, 1e-15);
    close(r.t, 2 * Math.sqrt(3), 1e-14);
    // df 2: p = 1 − t/√(2 + t²) exactly
    close(r.p, 1 - r.t / Math.sqrt(2 + r.t * r.t), 1e-12);
    expect(r.signs).toEqual([1, 1, 1]);
  });

  it('degenerate pairs: identical deltas give p = 0 (scipy: t = ±inf), no change gives NaN, one pair gives NaN, lengths must match', () => {
    expect(pairedTTest([1, 2, 3], [2, 3, 4]).p).toBeCloseTo(0, 12);
    expect(pairedTTest([1, 2, 3], [0, 1, 2]).t).toBe(-Infinity);
    expect(pairedTTest([1, 2], [1, 2]).p).toBeNaN();
    expect(pairedTTest([1], [2]).p).toBeNaN();
    expect(() => pairedTTest([1, 2], [1])).toThrow(/pairs must match/);
  });
});

describe('Fréchet distance', () => {
  it('moments equal numpy mean / np.cov(rowvar=False)', () => {
    for (const c of reference.frechet.filter((f) => f.a)) {
      const m = gaussianMoments(Float64Array.from(c.a!.flat()), c.a!.length, c.dim);
      c.mean_a.forEach((v, j) => close(m.mean[j]!, v, 1e-12, 1e-12));
      c.cov_a.forEach((v, j) => close(m.covariance[j]!, v, 1e-10, 1e-12));
    }
  });

  it('equals the scipy sqrtm-based FID on every fixture case (dims 6, 16, 84)', () => {
    for (const c of reference.frechet) {
      const a = c.a ? gaussianMoments(Float64Array.from(c.a.flat()), c.a.length, c.dim) : moments(c.dim, c.mean_a, c.cov_a);
      const b = c.b ? gaussianMoments(Float64Array.from(c.b.flat()), c.b.length, c.dim) : moments(c.dim, c.mean_b!, c.cov_b!);
      close(frechetDistance(a, b), c.distance, 1e-8);
      close(frechetDistance(b, a), c.distance, 1e-8);
      expect(Math.abs(frechetDistance(a, a))).toBeLessThan(1e-8);
    }
  });

  it('hand example: 1-D Gaussians N(0, 4) and N(3, 1) → 9 + 4 + 1 − 2·2 = 10', () => {
    const a = moments(1, [0], [4]);
    const b = moments(1, [3], [1]);
    close(frechetDistance(a, b), 10, 1e-14);
    // diagonal covariances: Σ (σ₁ − σ₂)² + ‖Δμ‖²
    close(frechetDistance(moments(2, [0, 0], [4, 0, 0, 9]), moments(2, [1, 1], [1, 0, 0, 1])), 2 + 1 + 4, 1e-13);
  });
});

function moments(dim: number, mean: number[], covariance: number[]) {
  return { dim, count: 0, mean: Float64Array.from(mean), covariance: Float64Array.from(covariance) };
}
