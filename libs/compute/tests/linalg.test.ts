import { OodkitError } from '@oodkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LINALG_ENV,
  OnnxLinalg,
  RowStatistics,
  SECOND_MOMENT_BLOCK_ROWS,
  computeOptionsFrom,
  denseLinalg,
  initCompute,
  linalgSettings,
  loadOnnxRuntime,
  tf,
  type RowStatisticsResult,
} from '../src/index.js';
import { randomArray, relativeError } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu', env: {} });
});
afterAll(async () => {
  await initCompute({ backend: 'cpu', env: {} });
});

/** (1/N) Σ (x − c)(x − c)ᵀ in float64 from float32 x − c, the plain triple loop. */
function secondMomentF64(x: Float32Array, count: number, dim: number, c: Float32Array): Float64Array {
  const out = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < dim; j++) row[j] = Math.fround(x[r * dim + j]! - c[j]!);
    for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) out[i * dim + j] += row[i]! * row[j]!;
  }
  return out.map((v) => v / count);
}

async function withRoute<T>(route: 'backend' | 'onnxruntime', fn: () => Promise<T>): Promise<T> {
  await initCompute({ backend: 'cpu', linalg: route, env: {} });
  try {
    return await fn();
  } finally {
    await initCompute({ backend: 'cpu', env: {} });
  }
}

describe('onnxruntime second moment', () => {
  it.each([
    [96, 'column halves'],
    [37, 'one product (odd width)'],
  ])('D = %i (%s): float64 sum of float32 blocks, symmetric, ≈ the float64 triple loop', async (dim) => {
    const linalg = new OnnxLinalg(await loadOnnxRuntime(), 2);
    // more rows than a block, not a multiple of it; an offset centre as vim's u
    const count = SECOND_MOMENT_BLOCK_ROWS + 123;
    const x = randomArray(count * dim, `moment-${dim}`);
    const c = randomArray(dim, `centre-${dim}`).map((v) => v * 0.3);
    const got = await linalg.secondMomentAbout(x, count, dim, c);
    for (let i = 0; i < dim; i++) for (let j = 0; j < i; j++) expect(got[i * dim + j]).toBe(got[j * dim + i]);
    expect(relativeError(got, secondMomentF64(x, count, dim, c))).toBeLessThan(2e-6);
    await linalg.release();
  });

  it('hand-computed: rows (1, 2), (3, 4) about (1, 1)', async () => {
    const linalg = new OnnxLinalg(await loadOnnxRuntime(), 1);
    // (0, 1), (2, 3) → [[0 + 4, 0 + 6], [6, 1 + 9]] / 2
    expect(Array.from(await linalg.secondMomentAbout(Float32Array.from([1, 2, 3, 4]), 2, 2, Float32Array.from([1, 1])))).toEqual([
      2, 3, 3, 5,
    ]);
    await linalg.release();
  });

  it('does not depend on the thread count (bit for bit)', async () => {
    const ort = await loadOnnxRuntime();
    const one = new OnnxLinalg(ort, 1);
    const two = new OnnxLinalg(ort, 2);
    const dim = 128;
    const count = 5000;
    const x = randomArray(count * dim, 'threads');
    const c = new Float32Array(dim).fill(0.25);
    expect(await one.secondMomentAbout(x, count, dim, c)).toEqual(await two.secondMomentAbout(x, count, dim, c));
    const basis = randomArray(dim * 40, 'threads-basis');
    const spec = { dim, outputs: ['projectedNorm' as const], projection: { centre: c, basis, width: 40 } };
    const a = await one.rowStatistics(spec, x, count);
    const b = await two.rowStatistics(spec, x, count);
    expect(a.projectedNorm).toEqual(b.projectedNorm);
    await one.release();
    await two.release();
  });
});

describe('RowStatistics', () => {
  // x = (1, 2), (3, 4), (5, 5); W = I₂, b = (0, 1) → logits (1, 3), (3, 5), (5, 6); c = (1, 1), B = e₁ → |x₁ − 1|
  const x = Float32Array.from([1, 2, 3, 4, 5, 5]);
  const spec = {
    dim: 2,
    head: { weight: [1, 0, 0, 1], bias: [0, 1], classes: 2 },
    projection: { centre: Float32Array.from([1, 1]), basis: Float32Array.from([1, 0]), width: 1 },
    // G = (1, 0), (0, 1), (1, 1), k = 2: x̂·g for x = (1, 2) are (1, 2, 3)/√5 → mean of the top two √5/2
    bank: { rows: Float32Array.from([1, 0, 0, 1, 1, 1]), count: 3, k: 2 },
    outputs: ['logsumexp', 'argmax', 'maxLogit', 'projectedNorm', 'meanTopK'] as const,
  };
  const lse = (a: number, b: number) => Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));

  it.each(['onnxruntime', 'backend'] as const)('%s route: hand-computed values', async (route) => {
    await withRoute(route, async () => {
      const stats = await RowStatistics.create(spec);
      expect(stats.route).toBe(route);
      const r = await stats.compute(x);
      expect(Array.from(r.argmax!)).toEqual([1, 1, 1]);
      expect(Array.from(r.maxLogit!)).toEqual([3, 5, 6]);
      expect(Array.from(r.projectedNorm!)).toEqual([0, 2, 4]);
      [lse(1, 3), lse(3, 5), lse(5, 6)].forEach((v, i) => expect(r.logsumexp![i]).toBeCloseTo(v, 6));
      [Math.sqrt(5) / 2, (0.8 + 1.4) / 2, (1 / Math.SQRT2 + Math.SQRT2) / 2].forEach((v, i) => expect(r.meanTopK![i]).toBeCloseTo(v, 6));
      // a zero row stays zero (x / max(‖x‖, 1e-30)), not NaN
      expect(Array.from((await stats.compute(Float32Array.from([0, 0]))).meanTopK!)).toEqual([0]);
      stats.dispose();
    });
  });

  it('argmax takes the first index on ties, on both routes', async () => {
    const tied = { dim: 2, head: { weight: [1, 0, 0, 1], bias: [0, 0], classes: 2 }, outputs: ['argmax'] as const };
    for (const route of ['onnxruntime', 'backend'] as const) {
      await withRoute(route, async () => {
        const stats = await RowStatistics.create(tied);
        expect(Array.from((await stats.compute(Float32Array.from([2, 2, -1, -1]))).argmax!)).toEqual([0, 0]);
        stats.dispose();
      });
    }
  });

  it('the two routes agree on random rows, from host arrays, tensors and tensors with host rows', async () => {
    const dim = 64;
    const count = 9000; // two onnxruntime blocks and a part
    const rows = randomArray(count * dim, 'rows');
    const random = {
      dim,
      head: { weight: randomArray(10 * dim, 'w'), bias: randomArray(10, 'b'), classes: 10 },
      projection: { centre: randomArray(dim, 'c'), basis: randomArray(dim * 20, 'B'), width: 20 },
      bank: { rows: randomArray(300 * dim, 'G'), count: 300, k: 50 },
      outputs: ['logsumexp', 'argmax', 'maxLogit', 'projectedNorm', 'meanTopK'] as const,
    };
    const results: Record<string, RowStatisticsResult> = {};
    for (const route of ['onnxruntime', 'backend'] as const) {
      await withRoute(route, async () => {
        const stats = await RowStatistics.create(random);
        const t = tf.tensor2d(rows, [count, dim]);
        results[`${route}-host`] = await stats.compute(rows);
        results[`${route}-tensor`] = await stats.compute(t);
        results[`${route}-both`] = await stats.compute(t, rows);
        await expect(stats.compute(t, rows.subarray(dim))).rejects.toThrow(/host rows hold/);
        t.dispose();
        stats.dispose();
      });
    }
    const ref = results['backend-tensor']!;
    for (const r of Object.values(results)) {
      expect(relativeError(r.logsumexp!, ref.logsumexp!)).toBeLessThan(1e-5);
      expect(relativeError(r.maxLogit!, ref.maxLogit!)).toBeLessThan(1e-5);
      expect(relativeError(r.projectedNorm!, ref.projectedNorm!)).toBeLessThan(1e-5);
      expect(relativeError(r.meanTopK!, ref.meanTopK!)).toBeLessThan(1e-5);
      // random logits: ties within float32 rounding are practically absent
      expect(Array.from(r.argmax!)).toEqual(Array.from(ref.argmax!));
    }
  });

  it('names what an output needs and checks sizes', async () => {
    await expect(RowStatistics.create({ dim: 2, outputs: ['argmax'] })).rejects.toThrow(/'argmax' needs a head/);
    await expect(RowStatistics.create({ dim: 2, outputs: ['projectedNorm'] })).rejects.toThrow(/needs a projection/);
    await expect(RowStatistics.create({ dim: 2, outputs: ['meanTopK'] })).rejects.toThrow(/needs a bank/);
    await expect(
      RowStatistics.create({ dim: 2, bank: { rows: Float32Array.from([1, 0]), count: 1, k: 2 }, outputs: ['meanTopK'] }),
    ).rejects.toThrow(/1 ≤ k ≤ 1/);
    await expect(RowStatistics.create({ dim: 2, head: { weight: [1, 2, 3], bias: [0], classes: 1 }, outputs: ['argmax'] })).rejects.toThrow(
      /expected 1×2 and 1/,
    );
    const stats = await RowStatistics.create({ ...spec, outputs: ['maxLogit'] });
    await expect(stats.compute(Float32Array.from([1, 2, 3]))).rejects.toThrow(/not rows of 2/);
    stats.dispose();
  });
});

describe('compute.linalg route', () => {
  it("'backend' keeps every product on the tensor backend; OODKIT_LINALG overrides the option", async () => {
    const info = await initCompute({ backend: 'cpu', linalg: 'backend', env: {} });
    expect(info.linalg).toBe('backend');
    expect(await denseLinalg()).toBeUndefined();
    await initCompute({ backend: 'cpu', linalg: 'backend', env: { [LINALG_ENV]: 'onnxruntime' } });
    expect(linalgSettings().mode).toBe('onnxruntime');
    expect(await denseLinalg()).toBeInstanceOf(OnnxLinalg);
    await initCompute({ backend: 'cpu', env: {} });
    expect(linalgSettings().mode).toBe('auto');
  });

  it('an unknown value is an error naming where it came from, with the closest name', async () => {
    await expect(initCompute({ backend: 'cpu', linalg: 'bakend' as never, env: {} })).rejects.toThrow(OodkitError);
    await expect(initCompute({ backend: 'cpu', linalg: 'bakend' as never, env: {} })).rejects.toThrow(
      /compute\.linalg: unknown linalg route 'bakend' \(did you mean 'backend'\?\)/,
    );
    await expect(initCompute({ backend: 'cpu', env: { [LINALG_ENV]: 'tfjs' } })).rejects.toThrow(
      /OODKIT_LINALG: unknown linalg route 'tfjs'/,
    );
  });

  it('computeOptionsFrom carries compute.linalg from a config section', () => {
    expect(computeOptionsFrom({ backend: 'wasm', linalg: 'backend' })).toEqual({ backend: 'wasm', linalg: 'backend' });
    expect(computeOptionsFrom({})).toEqual({ backend: 'auto' });
  });
});
