import { initCompute, tf } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  classMeans,
  classCentredRows,
  empiricalCovariance,
  energyScore,
  LinearHead,
  logSumExp,
  percentile,
  pinvh,
  roundHalfEven,
  rowsOf,
  SharedPrecisionGaussians,
  symmetricEigen,
} from '../src/math/index.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('percentile (numpy linear)', () => {
  // Reference values printed by numpy 2.4 (`np.percentile(a, q)` for float64 and float32 input).
  const a = [0.5, -1.25, 3.0, 2.0, 7.5, 0.25, 1.0];
  const cases: [number, number, number][] = [
    [0, -1.25, -1.25],
    [10, -0.34999999999999987, -0.3500000238418579],
    [33.3, 0.49949999999999994, 0.49950000643730164],
    [50, 1.0, 1.0],
    [65, 1.9000000000000004, 1.899999976158142],
    [90, 4.800000000000002, 4.800000190734863],
    [99, 7.229999999999998, 7.230000019073486],
    [100, 7.5, 7.5],
  ];
  it.each(cases)('q=%s matches numpy bit for bit on float64 input, to 1 float32 ulp on float32 input', (q, f64, f32) => {
    expect(percentile(a, q)).toBe(f64);
    // numpy lerps float32 input in float32 arithmetic (version-dependent); we lerp in float64.
    expect(Math.abs(Math.fround(percentile(Float32Array.from(a), q)) - f32)).toBeLessThanOrEqual(Math.abs(f32) * 2 ** -23);
  });
  it('handles small and degenerate inputs', () => {
    expect(percentile([1, 2, 3, 4], 90)).toBe(3.7);
    expect(percentile([3, 1, 2], 50)).toBe(2);
    expect(percentile([5], 37)).toBe(5);
    expect(percentile([2, 2, 2, 2], 85)).toBe(2);
    expect(() => percentile([], 50)).toThrow(/no values/);
    expect(() => percentile([1, NaN], 50)).toThrow(/NaN/);
  });
  it('agrees with a full sort on random data with duplicates', () => {
    let s = 12345;
    const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
    const v = Array.from({ length: 1001 }, () => Math.floor(rand() * 50) / 7);
    const sorted = [...v].sort((x, y) => x - y);
    for (const q of [1, 12.5, 50, 85, 90, 95, 99]) {
      const idx = (v.length - 1) * (q / 100);
      const lo = Math.floor(idx);
      const t = idx - lo;
      const aa = sorted[lo];
      const bb = sorted[Math.min(lo + 1, v.length - 1)];
      const expected = t >= 0.5 ? bb - (bb - aa) * (1 - t) : aa + (bb - aa) * t;
      expect(percentile(v, q)).toBe(expected);
    }
  });
  it('roundHalfEven is np.round', () => {
    expect([6.5, 7.5, -2.5, 332.8, 0.5, 1.5, 2.4999].map(roundHalfEven)).toEqual([6, 8, -2, 333, 0, 2, 2]);
  });
});

describe('linear algebra', () => {
  it('symmetricEigen reconstructs the matrix with orthonormal vectors', () => {
    const n = 7;
    const m = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) m[i * n + j] = m[j * n + i] = Math.sin(i * 3 + j * 7) + (i === j ? 2 : 0);
    const { values, vectors } = symmetricEigen(m, n);
    for (let k = 1; k < n; k++) expect(values[k]).toBeGreaterThanOrEqual(values[k - 1]);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let rec = 0;
        let dot = 0;
        for (let k = 0; k < n; k++) {
          rec += vectors[i * n + k] * values[k] * vectors[j * n + k];
          dot += vectors[k * n + i] * vectors[k * n + j];
        }
        expect(rec).toBeCloseTo(m[i * n + j], 12);
        expect(dot).toBeCloseTo(i === j ? 1 : 0, 12);
      }
    }
  });
  it('symmetricEigen on a 64×64 covariance with repeated eigenvalues: A·v = λ·v to 1e-10', () => {
    const n = 64;
    // rank-deficient PSD matrix (Gram of 20 vectors) plus a repeated block: hard cases for QL
    const m = new Float64Array(n * n);
    for (let r = 0; r < 20; r++) {
      const v = Array.from({ length: n }, (_, i) => Math.cos(i * (r + 1) * 0.37) + (i % 5 === r % 5 ? 1 : 0));
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j] += v[i] * v[j];
    }
    for (let i = 0; i < 8; i++) m[i * n + i] += 3;
    const { values, vectors } = symmetricEigen(m, n);
    let scale = 0;
    for (const v of values) scale = Math.max(scale, Math.abs(v));
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += m[i * n + j] * vectors[j * n + k];
        expect(Math.abs(av - values[k] * vectors[i * n + k])).toBeLessThan(1e-10 * scale);
      }
    }
    // 64 − 20 − (8 shifted directions, some inside the span) zero eigenvalues at least 36
    expect(values.filter((v) => Math.abs(v) < 1e-9 * scale).length).toBeGreaterThanOrEqual(36);
  });
  it('symmetricEigen: known 2×2 and diagonal cases', () => {
    const { values } = symmetricEigen([2, 1, 1, 2], 2);
    expect(values[0]).toBeCloseTo(1, 14);
    expect(values[1]).toBeCloseTo(3, 14);
    expect(Array.from(symmetricEigen([5, 0, 0, 0, -1, 0, 0, 0, 2], 3).values)).toEqual([-1, 2, 5]);
  });
  it('pinvh inverts a regular matrix and pseudo-inverts a singular one (scipy cutoff)', () => {
    const inv = pinvh([4, 2, 2, 3], 2); // inverse = [[3,-2],[-2,4]]/8
    [3 / 8, -2 / 8, -2 / 8, 4 / 8].forEach((v, i) => expect(inv[i]).toBeCloseTo(v, 14));
    // rank one: [[1,1],[1,1]] = 2·uuᵀ, u = (1,1)/√2 → pinv = uuᵀ/2 = all 1/4
    const p = pinvh([1, 1, 1, 1], 2);
    p.forEach((v) => expect(v).toBeCloseTo(0.25, 14));
  });
  it('empiricalCovariance is np.cov(bias=1) and removes the mean again', () => {
    // x = (1,2), (3,0), (5,4): mean (3,2); deviations (-2,0),(0,-2),(2,2) → cov [[8/3, 4/3],[4/3, 8/3]]
    const cov = empiricalCovariance(rowsOf([1, 2, 3, 0, 5, 4], 3, 2));
    [8 / 3, 4 / 3, 4 / 3, 8 / 3].forEach((v, i) => expect(cov[i]).toBeCloseTo(v, 14));
    // more rows than one block (256) exercise the block accumulation
    const n = 600;
    const rows = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) {
      rows[2 * i] = i % 3;
      rows[2 * i + 1] = (i % 3) * 2 + 10;
    }
    const c2 = empiricalCovariance(rowsOf(rows, n, 2));
    expect(c2[0]).toBeCloseTo(2 / 3, 12);
    expect(c2[1]).toBeCloseTo(4 / 3, 12);
    expect(c2[3]).toBeCloseTo(8 / 3, 12);
  });
  it('classMeans and classCentredRows; a class without samples is a clear error', () => {
    const split = {
      name: 'train',
      count: 4,
      dim: 2,
      features: Float32Array.from([0, 0, 2, 2, 10, 0, 12, 4]),
      labels: Int32Array.from([0, 0, 1, 1]),
    };
    const means = classMeans(split, 2);
    expect(Array.from(means)).toEqual([1, 1, 11, 2]);
    const src = classCentredRows(split, means);
    const row = new Float64Array(2);
    src.read(3, row);
    expect(Array.from(row)).toEqual([1, 2]);
    expect(() => classMeans(split, 3)).toThrow(/class 2 has no samples/);
  });
  it('SharedPrecisionGaussians gives (z−μ)ᵀΣ⁻¹(z−μ)', () => {
    // Σ = [[4,2],[2,3]] → Σ⁻¹ = [[3,-2],[-2,4]]/8
    const g = new SharedPrecisionGaussians(Float64Array.from([0, 0, 1, -1]), 2, Float64Array.from([4, 2, 2, 3]), 2);
    const z = tf.tensor2d([
      [1, 2],
      [0, 0],
    ]);
    const d = g.squaredDistances(z);
    const got = d.arraySync();
    const m = (x: number, y: number) => (3 * x * x - 4 * x * y + 4 * y * y) / 8;
    expect(got[0][0]).toBeCloseTo(m(1, 2), 5);
    expect(got[0][1]).toBeCloseTo(m(0, 3), 5);
    expect(got[1][0]).toBeCloseTo(0, 6);
    expect(got[1][1]).toBeCloseTo(m(-1, 1), 5);
    z.dispose();
    d.dispose();
    g.dispose();
  });
});

describe('logits and energy', () => {
  it('LinearHead computes z·Wᵀ + b and rejects a wrong feature width', () => {
    const head = new LinearHead({
      numClasses: 2,
      featureDim: 3,
      weight: Float32Array.from([1, 0, -1, 2, 1, 0]),
      bias: Float32Array.from([0.5, -1]),
    });
    const z = tf.tensor2d([[1, 2, 3]]);
    const l = head.logits(z);
    expect(Array.from(l.dataSync())).toEqual([1 - 3 + 0.5, 2 + 2 - 1]);
    const bad = tf.tensor2d([[1, 2]]);
    expect(() => head.logits(bad)).toThrow(/expected \[N, 3\]/);
    [z, l, bad].forEach((t) => t.dispose());
    head.dispose();
  });
  it('logSumExp and T·logsumexp(ℓ/T) match float64 values', () => {
    const rows = [
      [1, 2, 3],
      [1000, 1000, 990],
    ];
    const l = tf.tensor2d(rows);
    const lse = logSumExp(l).dataSync();
    const e10 = energyScore(l, 10).dataSync();
    rows.forEach((r, i) => {
      const m = Math.max(...r);
      expect(lse[i]).toBeCloseTo(m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0)), 4);
      const m10 = m / 10;
      expect(e10[i] / (10 * (m10 + Math.log(r.reduce((s, v) => s + Math.exp(v / 10 - m10), 0))))).toBeCloseTo(1, 6);
    });
    l.dispose();
  });
});
