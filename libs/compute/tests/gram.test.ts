import { beforeAll, describe, expect, it } from 'vitest';
import { gramPanelIndex, initCompute, tf, wasmGramAccumulator } from '../src/index.js';
import { kernelThreads } from '../src/wasm/simd.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { randomArray } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm', env: {} });
});

/** Σ_r x[r, i]·x[r, j] by the plain double loop. */
function naiveGram(x: Float64Array, rows: number, dim: number): Float64Array {
  const g = new Float64Array(dim * dim);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) g[i * dim + j] += x[r * dim + i] * x[r * dim + j];
  return g;
}

describe('wasm float64 Gram accumulator (csrc/gram.c)', () => {
  it('equals the naive double loop over several blocks, a short last block and zero padding', () => {
    expect(kernelThreads(tf.backend() as BackendWasm)).toBeGreaterThanOrEqual(1);
    const dim = 22;
    const dimP = 24;
    const rows = 53;
    const x = Float64Array.from(randomArray(rows * dim, 'gram rows'), (v) => v * 3 + 1);
    const acc = wasmGramAccumulator(dimP, 16)!;
    try {
      for (let start = 0; start < rows; start += 16) {
        const b = Math.min(16, rows - start);
        const view = acc.rows();
        view.fill(0);
        for (let r = 0; r < b; r++) for (let j = 0; j < dim; j++) view[gramPanelIndex(16, r, j)] = x[(start + r) * dim + j]!;
        acc.add(b);
      }
      const got = acc.read();
      const want = naiveGram(x, rows, dim);
      for (let i = 0; i < dim; i++) {
        // Only the upper triangle of 4×4 tiles is accumulated.
        for (let j = 4 * Math.floor(i / 4); j < dim; j++)
          expect(Math.abs(got[i * dimP + j]! - want[i * dim + j]!)).toBeLessThan(1e-11 * (1 + Math.abs(want[i * dim + j]!)));
        for (let j = dim; j < dimP; j++) expect(got[i * dimP + j]).toBe(0);
      }
    } finally {
      acc.dispose();
    }
  });

  it('rejects a padded width that is not a multiple of 4 and a count beyond the block', () => {
    expect(() => wasmGramAccumulator(6, 8)).toThrow(/multiple of 4/);
    const acc = wasmGramAccumulator(8, 4)!;
    expect(() => acc.add(5)).toThrow(/count 5/);
    acc.dispose();
  });

  it('is unavailable (undefined) on the cpu backend', async () => {
    await tf.setBackend('cpu');
    try {
      expect(wasmGramAccumulator(8, 4)).toBeUndefined();
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
