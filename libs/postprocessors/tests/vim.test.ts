import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { pinvTimes } from '../src/math/pinv.js';
import { effectiveVimDim, secondMomentAbout, vimDefinition, VimPostprocessor } from '../src/postprocessors/vim.js';
import { gaussianRows, layer, split } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const matVec = (w: ArrayLike<number>, rows: number, cols: number, x: ArrayLike<number>) =>
  Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, k) => w[i * cols + k] * x[k]).reduce((a, b) => a + b, 0));

describe('pinvTimes', () => {
  it('wide W: exact solution of W·x = b lying in the row space (minimum norm)', () => {
    const rng = Rng.fromSeed(3);
    const w = gaussianRows(rng, 3, 7);
    const b = [0.3, -1.2, 2.5];
    const x = pinvTimes(w, 3, 7, b);
    matVec(w, 3, 7, x).forEach((v, i) => expect(v).toBeCloseTo(b[i], 6));
    // x = Wᵀy: its component orthogonal to the rows of W vanishes. Project on a null vector of W.
    const n = gaussianRows(rng.derive('n'), 1, 7);
    const y = pinvTimes(w, 3, 7, matVec(w, 3, 7, n));
    const nullPart = Array.from(n, (v, k) => v - y[k]);
    expect(nullPart.reduce((a, v, k) => a + v * x[k], 0)).toBeCloseTo(0, 6);
  });
  it('tall W: least squares (normal equations Wᵀ(Wx − b) = 0)', () => {
    const rng = Rng.fromSeed(4);
    const w = gaussianRows(rng, 6, 3);
    const b = [1, 2, -1, 0.5, 0, 3];
    const x = pinvTimes(w, 6, 3, b);
    const r = matVec(w, 6, 3, x).map((v, i) => v - b[i]);
    for (let k = 0; k < 3; k++) expect(r.reduce((a, v, i) => a + v * w[i * 3 + k], 0)).toBeCloseTo(0, 6);
  });
  it('rank-deficient W gives the minimum-norm solution', () => {
    // rows are multiples: W = [[1,1],[2,2]], b in range → x = (b₁/2, b₁/2) for b = (1, 2)
    const x = pinvTimes([1, 1, 2, 2], 2, 2, [1, 2]);
    expect(x[0]).toBeCloseTo(0.5, 9);
    expect(x[1]).toBeCloseTo(0.5, 9);
  });
});

describe('vim', () => {
  // W picks the first two coordinates; u = −pinv(W)b = (−1, 2, 0). Train = u + (±3, ±2, ±0.5) (all 8 signs):
  // second moment about u is diag(9, 4, 0.25); train logits (3s₁, 2s₂) → mean max logit = 1.5.
  const w = [1, 0, 0, 0, 1, 0];
  const bias = [1, -2];
  const train: number[] = [];
  for (const s1 of [1, -1]) for (const s2 of [1, -1]) for (const s3 of [1, -1]) train.push(-1 + 3 * s1, 2 + 2 * s2, 0.5 * s3);
  const lse = (v: number[]) => Math.log(v.reduce((a, x) => a + Math.exp(x), 0));

  it.each(['onnxruntime', 'backend'] as const)(
    'closed form (%s route): residual space, α and scores for dim = 2 and dim = 1 (re-derived on change)',
    async (linalg) => {
      await initCompute({ backend: 'cpu', linalg });
      const pp = new VimPostprocessor(vimDefinition.args, { dim: 2 });
      await pp.setup({ finalLayer: layer(w, bias, 2, 3) }, { train: split('train', train, Array(8).fill(0), 3) });
      const zs = [
        [0.5, 1, 2],
        [-3, 4, -1],
      ];
      const q = tf.tensor2d(zs.flat(), [2, 3]);
      // dim = 2: residual = |z₃|, α = 1.5 / 0.5
      expect(pp.alpha).toBeCloseTo(3, 6);
      let r = await pp.score({ features: q });
      zs.forEach((z, i) => expect(r.conf[i]).toBeCloseTo(lse([z[0] + 1, z[1] - 2]) - 3 * Math.abs(z[2]), 5));
      expect(Array.from(r.pred)).toEqual([0, 1]);
      // dim = 1: residual = ‖(z₂ − 2, z₃)‖, α = 1.5 / √4.25
      await pp.setHyperparameters({ dim: 1 });
      const alpha1 = 1.5 / Math.sqrt(4.25);
      expect(pp.alpha).toBeCloseTo(alpha1, 6);
      r = await pp.score({ features: q });
      zs.forEach((z, i) => expect(r.conf[i]).toBeCloseTo(lse([z[0] + 1, z[1] - 2]) - alpha1 * Math.hypot(z[1] - 2, z[2]), 5));
      // dim ≥ D falls back to ⌊D/2⌋ = 1 and the grid collapses accordingly
      await pp.setHyperparameters({ dim: 256 });
      expect(pp.alpha).toBeCloseTo(alpha1, 6);
      expect(pp.searchGrid(vimDefinition.grid as never)).toEqual({ dim: [1] });
      // the same rows on the host (as feature sources pass them) give the same scores
      const host = await pp.score({ features: q, hostFeatures: Float32Array.from(zs.flat()) });
      expect(Array.from(host.conf)).toEqual(Array.from(r.conf));
      expect(Array.from(host.pred)).toEqual(Array.from(r.pred));
      q.dispose();
      pp.dispose();
      await initCompute({ backend: 'cpu' });
    },
  );

  it('helpers: fallback rule and the uncentred second moment', async () => {
    expect(effectiveVimDim(256, 512)).toBe(256);
    expect(effectiveVimDim(1000, 512)).toBe(256);
    expect(effectiveVimDim(256, 84)).toBe(42);
    const m = await secondMomentAbout(Float32Array.from([1, 2, 3, 4]), 2, 2, Float64Array.from([1, 1]));
    // rows minus u: (0,1), (2,3) → [[0+4, 0+6], [6, 1+9]] / 2
    expect(Array.from(m)).toEqual([2, 3, 3, 5]);
  });

  it.each(['onnxruntime', 'backend'] as const)(
    'a non-finite train feature is named (sample, dim) on the %s route, as requireSplit names it elsewhere',
    async (linalg) => {
      await initCompute({ backend: 'cpu', linalg });
      for (const [at, bad] of [
        [13, NaN],
        [22, -Infinity],
      ] as const) {
        const rows = train.slice();
        rows[at] = bad;
        const pp = new VimPostprocessor(vimDefinition.args, { dim: 2 });
        await expect(pp.setup({ finalLayer: layer(w, bias, 2, 3) }, { train: split('train', rows, Array(8).fill(0), 3) })).rejects.toThrow(
          new RegExp(`non-finite feature \\(${bad}\\) at sample ${Math.floor(at / 3)}, dim ${at % 3}`),
        );
      }
      await initCompute({ backend: 'cpu' });
    },
  );

  it('features too large for float32 products are an error on the onnxruntime route only', async () => {
    const huge = train.map((v, i) => (i === 4 ? 1e30 : v));
    await initCompute({ backend: 'cpu', linalg: 'onnxruntime' });
    const pp = new VimPostprocessor(vimDefinition.args, { dim: 2 });
    await expect(pp.setup({ finalLayer: layer(w, bias, 2, 3) }, { train: split('train', huge, Array(8).fill(0), 3) })).rejects.toThrow(
      /too large for float32 products \(the second moment of dim 1 overflows\).*compute\.linalg: backend/,
    );
    await initCompute({ backend: 'cpu', linalg: 'backend' });
    await pp.setup({ finalLayer: layer(w, bias, 2, 3) }, { train: split('train', huge, Array(8).fill(0), 3) });
    expect(Number.isFinite(pp.alpha)).toBe(true);
    pp.dispose();
    await initCompute({ backend: 'cpu' });
  });

  it('rejects setHyperparameters with an invalid dim and does not leak tensors across re-derivations', async () => {
    const rng = Rng.fromSeed(9);
    const pp = new VimPostprocessor(vimDefinition.args, vimDefinition.args.parse({}));
    const d = 10;
    await pp.setup(
      { finalLayer: layer(gaussianRows(rng, 4, d), [0, 0.1, 0.2, 0.3], 4, d) },
      { train: split('train', gaussianRows(rng, 50, d), Array(50).fill(0), d) },
    );
    const before = tf.memory().numTensors;
    for (const dim of [3, 7, 5]) await pp.setHyperparameters({ dim });
    const q = tf.tensor2d(gaussianRows(rng, 5, d), [5, d]);
    await pp.score({ features: q });
    q.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(pp.setHyperparameters({ dim: 0 })).rejects.toThrow(/dim/);
    pp.dispose();
  });
});
