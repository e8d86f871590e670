import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf, wasmSymmetricEigen } from '../src/index.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm', env: {} });
});

/** max |A·v_k − λ_k·v_k| and max |VᵀV − I| of a decomposition (vectors[i·n + k] = component i of v_k). */
function residuals(m: ArrayLike<number>, n: number, values: Float64Array, vectors: Float64Array): { eig: number; orth: number } {
  let eig = 0;
  let orth = 0;
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let j = 0; j < n; j++) av += m[i * n + j]! * vectors[j * n + k]!;
      eig = Math.max(eig, Math.abs(av - values[k]! * vectors[i * n + k]!));
    }
    for (let q = 0; q < n; q++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += vectors[i * n + k]! * vectors[i * n + q]!;
      orth = Math.max(orth, Math.abs(dot - (k === q ? 1 : 0)));
    }
  }
  return { eig, orth };
}

describe('wasm symmetric eigendecomposition (csrc/eigen.c)', () => {
  it("matches numpy's eigh on the committed fixture: eigenvalues to 1e-12, eigenvectors up to sign", () => {
    const ref = JSON.parse(readFileSync(new URL('./fixtures/eigen-reference.json', import.meta.url), 'utf8')) as {
      n: number;
      values: number[];
      vectors: number[][];
    };
    const n = ref.n;
    const m = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) m[i * n + j] = Math.cos(0.3 * (i + j)) + 1 / (1 + Math.abs(i - j)) + (i === j ? 0.05 * i : 0);
    const got = wasmSymmetricEigen(m, n)!;
    const scale = Math.max(...ref.values.map(Math.abs));
    for (let k = 0; k < n; k++) {
      expect(Math.abs(got.values[k]! - ref.values[k]!)).toBeLessThan(1e-12 * scale);
      let dot = 0;
      for (let i = 0; i < n; i++) dot += got.vectors[i * n + k]! * ref.vectors[k]![i]!;
      expect(Math.abs(Math.abs(dot) - 1)).toBeLessThan(1e-9);
    }
    const r = residuals(m, n, got.values, got.vectors);
    expect(r.eig).toBeLessThan(1e-12 * scale);
    expect(r.orth).toBeLessThan(1e-13);
  });

  it('odd size with a rank-deficient, repeated spectrum: A·v = λv, orthonormal, ascending', () => {
    const n = 67;
    const m = new Float64Array(n * n);
    for (let r = 0; r < 9; r++) {
      const v = Array.from({ length: n }, (_, i) => Math.cos(i * (r + 1) * 0.41) + (i % 3 === r % 3 ? 1 : 0));
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j]! += v[i]! * v[j]!;
    }
    for (let i = 0; i < 11; i++) m[i * n + i]! += 2; // a repeated eigenvalue block
    const { values, vectors } = wasmSymmetricEigen(m, n)!;
    for (let k = 1; k < n; k++) expect(values[k]).toBeGreaterThanOrEqual(values[k - 1]!);
    const scale = Math.max(...Array.from(values, Math.abs));
    const r = residuals(m, n, values, vectors);
    expect(r.eig).toBeLessThan(1e-11 * scale);
    expect(r.orth).toBeLessThan(1e-12);
    expect(Array.from(values).filter((v) => Math.abs(v) < 1e-10 * scale).length).toBeGreaterThanOrEqual(n - 9 - 11);
  });

  it('diagonal and 1×1 inputs, size errors, and undefined off the wasm backend', async () => {
    const diag = wasmSymmetricEigen([3, 0, 0, 0, -1, 0, 0, 0, 2], 3)!;
    expect(Array.from(diag.values)).toEqual([-1, 2, 3]);
    for (let k = 0; k < 3; k++) {
      const col = [0, 1, 2].map((i) => Math.abs(diag.vectors[i * 3 + k]!));
      expect(col.sort()).toEqual([0, 0, 1]);
    }
    expect(Array.from(wasmSymmetricEigen([5], 1)!.values)).toEqual([5]);
    expect(() => wasmSymmetricEigen([1, 2, 3], 2)).toThrow(/2×2/);
    await tf.setBackend('cpu');
    try {
      expect(wasmSymmetricEigen([1], 1)).toBeUndefined();
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
