import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, wasmNeighbourIndex, wasmRelationBank } from '../src/index.js';
import { randomArray } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm', env: {} });
});

const f = Math.fround;

/** q·x summed in float32 in coordinate order, as one lane of the kernel does. */
function dotF32(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s = f(s + f(a[ao + d]! * b[bo + d]!));
  return s;
}

/** All scores of query i, by the float32 formulas in the kernel's order (bit-exact expectation). */
function scoresF32(bank: Float32Array, n: number, q: Float32Array, i: number, dim: number, l2: boolean): number[] {
  const qsq = dotF32(q, i * dim, q, i * dim, dim);
  return Array.from({ length: n }, (_, r) => {
    const ip = dotF32(q, i * dim, bank, r * dim, dim);
    if (!l2) return ip;
    const xsq = dotF32(bank, r * dim, bank, r * dim, dim);
    return -Math.max(f(f(qsq + xsq) - f(ip + ip)), 0);
  });
}

/** The same scores in float64 (the math, not the arithmetic). */
function scoresF64(bank: Float32Array, n: number, q: Float32Array, i: number, dim: number, l2: boolean): number[] {
  return Array.from({ length: n }, (_, r) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += l2 ? (q[i * dim + d]! - bank[r * dim + d]!) ** 2 : q[i * dim + d]! * bank[r * dim + d]!;
    return l2 ? -s : s;
  });
}

const topOf = (scores: number[], k: number) => scores.sort((a, b) => b - a).slice(0, k);

function checkTopK(n: number, m: number, dim: number, ks: number[], stream: string) {
  const bank = randomArray(n * dim, `${stream} bank`);
  const queries = randomArray(m * dim, `${stream} queries`);
  const index = wasmNeighbourIndex(bank, n, dim)!;
  try {
    for (const l2 of [false, true]) {
      for (const k of ks) {
        const got = index.topK(queries, m, k, l2);
        expect(got.length).toBe(m * k);
        for (let i = 0; i < m; i++) {
          const row = Array.from(got.subarray(i * k, (i + 1) * k));
          expect(row).toEqual(topOf(scoresF32(bank, n, queries, i, dim, l2), k));
          const exact = topOf(scoresF64(bank, n, queries, i, dim, l2), k);
          for (let j = 0; j < k; j++) expect(Math.abs(row[j]! - exact[j]!)).toBeLessThan(1e-4 * (1 + Math.abs(exact[j]!)));
        }
      }
    }
  } finally {
    index.dispose();
  }
}

describe('fused neighbour top-k kernel (csrc/neighbors.c)', () => {
  it('equals the naive search for both metrics: rows, queries and dim off the tile sizes, k = 1 and k = count', () => {
    checkTopK(61, 17, 13, [1, 7, 61], 'odd');
  });

  it('equals the naive search when the bank spans several L2 blocks (wide rows)', () => {
    checkTopK(75, 8, 1503, [1, 10, 75], 'wide');
  });

  it('keeps tied scores with their multiplicity', () => {
    // Integer coordinates: every score is exact in float32, and rows 0, 4, 9 (and 2, 7) coincide.
    // −max(d, 0) is −0 for a zero distance, as tf.neg(tf.relu(·)) gives on the tfjs path.
    const dim = 3;
    const rows = [
      [1, 2, 0],
      [0, 0, 1],
      [2, 2, 2],
      [-1, 0, 3],
      [1, 2, 0],
      [3, 0, 0],
      [0, 1, 1],
      [2, 2, 2],
      [1, 1, 0],
      [1, 2, 0],
    ];
    const bank = Float32Array.from(rows.flat());
    const q = Float32Array.from([1, 2, 0, 2, 2, 2]);
    const index = wasmNeighbourIndex(bank, rows.length, dim)!;
    try {
      expect(Array.from(index.topK(q, 2, 4, true))).toEqual([-0, -0, -0, -1, -0, -0, -5, -5]);
      expect(Array.from(index.topK(q, 2, 3, false))).toEqual([6, 6, 5, 12, 12, 6]);
    } finally {
      index.dispose();
    }
  });

  it('rejects k outside [1, count] and a query array of the wrong size', () => {
    const index = wasmNeighbourIndex(new Float32Array(12), 4, 3)!;
    try {
      expect(() => index.topK(new Float32Array(3), 1, 5, true)).toThrow(/k = 5 must be in \[1, 4\]/);
      expect(() => index.topK(new Float32Array(4), 1, 1, true)).toThrow(/4 values for 1 × 3 queries/);
    } finally {
      index.dispose();
    }
    expect(() => index.topK(new Float32Array(3), 1, 1, true)).toThrow(/disposed/);
  });
});

describe('fused relation kernel (csrc/neighbors.c)', () => {
  it('equals Σ w^pow over the edges w = max(ẑ·ẑ_t, 0)·(p·p_t) > thres, by the naive loop', () => {
    const [n, m, dim, classes] = [83, 19, 21, 10];
    const feats = randomArray(n * dim, 'relation bank');
    const qf = randomArray(m * dim, 'relation queries');
    const probs = Float32Array.from(randomArray(n * classes, 'relation probs'), (v) => Math.abs(v) / 3);
    const qp = Float32Array.from(randomArray(m * classes, 'relation query probs'), (v) => Math.abs(v) / 3);
    const bank = wasmRelationBank(feats, probs, n, dim, classes)!;
    try {
      for (const power of [1, 2, 5]) {
        const got = bank.sum(qf, qp, m, power, 0.03);
        let kept = 0;
        for (let i = 0; i < m; i++) {
          let expected = 0;
          for (let t = 0; t < n; t++) {
            const w = f(Math.max(dotF32(qf, i * dim, feats, t * dim, dim), 0) * dotF32(qp, i * classes, probs, t * classes, classes));
            if (w > f(0.03)) {
              expected += w ** power;
              kept++;
            }
          }
          expect(Math.abs(got[i]! - expected)).toBeLessThanOrEqual(1e-6 * (1 + expected));
        }
        expect(kept).toBeGreaterThan(0);
        expect(kept).toBeLessThan(m * n);
      }
      expect(() => bank.sum(qf, qp, m, 1.5, 0.03)).toThrow(/power 1.5 must be an integer/);
    } finally {
      bank.dispose();
    }
  });
});

describe('determinism of the neighbour, Gram and eigen kernels', () => {
  it('gives bit-identical outputs on 1 and 2 threads', () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const run = (threads: string) => {
      const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', 'thread-count-outputs.ts')], {
        cwd: path.resolve(here, '..', '..', '..'),
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, OODKIT_BACKEND: '', OODKIT_WASM_THREADS: threads },
      });
      expect(child.status, child.stderr).toBe(0);
      const match = /threads=(\d+) outputs=([0-9a-f]{64})/.exec(child.stdout);
      expect(match, child.stdout).not.toBeNull();
      return { threads: Number(match![1]), outputs: match![2]! };
    };
    const one = run('1');
    const two = run('2');
    expect([one.threads, two.threads]).toEqual([1, 2]);
    expect(two.outputs).toBe(one.outputs);
  });
});
