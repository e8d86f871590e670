/**
 * Exact KNN search options for the `knn` postprocessor at OpenOOD scale (50k×512 L2-normalised train
 * features): on wasm oodkit's fused kernel (what `NeighbourBank` uses there) and the tfjs path
 * (blocked 1×1-convolution products + tf.topk, `useKernel: false`), on other backends the tfjs path,
 * against a plain JavaScript dot-product loop, all exact. Query count defaults to 1000 (×10 for the
 * full 10k test set). --threads sets the wasm threads.
 * Run: npx tsx tools/bench/knn-search.ts [--queries 1000] [--train 50000] [--k 50] [--backends wasm,cpu] [--js 1] [--threads 1]
 * Prints figures and writes tools/bench/results/knn-search.json.
 */
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { initCompute, tf, type BackendName } from '@oodkit/compute';
import { Rng, writeFileAtomic } from '@oodkit/core';
import { l2Normalize, NeighbourBank } from '@oodkit/postprocessors';
import type { Tensor2D } from '@tensorflow/tfjs-core';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const n = Number(flag('train', '50000'));
const q = Number(flag('queries', '1000'));
const k = Number(flag('k', '50'));
const d = 512;
const backends = flag('backends', 'wasm,cpu').split(',') as BackendName[];
const runJs = flag('js', '1') === '1';
const threads = Number(flag('threads', '1'));

const rng = Rng.fromSeed(0).derive('bench.knn');
const train = new Float32Array(n * d);
for (let i = 0; i < train.length; i++) train[i] = Math.max(0, rng.normal(0.5, 1));
const queries = new Float32Array(q * d);
for (let i = 0; i < queries.length; i++) queries[i] = Math.max(0, rng.normal(0.5, 1.2));

interface Row {
  option: string;
  setup_ms: number;
  search_ms: number;
  per_10k_queries_s: number;
  gflops: number;
}
const rows: Row[] = [];
const flops = 2 * n * d * q;
let reference: Float32Array | undefined;
let maxDiff = 0;

const options = backends.flatMap((backend): { backend: BackendName; useKernel: boolean }[] =>
  backend === 'wasm'
    ? [
        { backend, useKernel: true },
        { backend, useKernel: false },
      ]
    : [{ backend, useKernel: false }],
);
for (const { backend, useKernel } of options) {
  const info = await initCompute({ backend, threads });
  const t0 = performance.now();
  const t = tf.tensor2d(train, [n, d]);
  const normed = l2Normalize(t);
  t.dispose();
  const bank = new NeighbourBank(normed, 'neg_squared_l2', 8192, { useKernel });
  normed.dispose();
  const t1 = performance.now();
  const qt = tf.tensor2d(queries, [q, d]);
  const qn = l2Normalize(qt);
  const top = bank.topK(qn, k) as Tensor2D;
  const kth = (await top.slice([0, k - 1], [q, 1]).data()) as Float32Array;
  const t2 = performance.now();
  if (!reference) reference = Float32Array.from(kth);
  else for (let i = 0; i < q; i++) maxDiff = Math.max(maxDiff, Math.abs(kth[i] - reference[i]));
  for (const x of [qt, qn, top]) x.dispose();
  bank.dispose();
  const search = t2 - t1;
  rows.push({
    option: useKernel
      ? `fused kernel (wasm, ${info.threads} thread${info.threads === 1 ? '' : 's'})`
      : `blocked product + topk (${backend}${backend === 'wasm' ? `, ${info.threads} thread${info.threads === 1 ? '' : 's'}` : ''})`,
    setup_ms: t1 - t0,
    search_ms: search,
    per_10k_queries_s: (search / q) * 10,
    gflops: flops / search / 1e6,
  });
}

if (runJs) {
  // Independent exact baseline: normalise, then a straight dot-product loop with a sorted top-k buffer.
  const t0 = performance.now();
  const norm = (src: Float32Array, rowsN: number) => {
    const out = new Float32Array(src.length);
    for (let i = 0; i < rowsN; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += src[i * d + j] ** 2;
      const r = 1 / Math.sqrt(s);
      for (let j = 0; j < d; j++) out[i * d + j] = src[i * d + j] * r;
    }
    return out;
  };
  const bankJs = norm(train, n);
  const t1 = performance.now();
  const qn = norm(queries, q);
  const kthJs = new Float32Array(q);
  const best = new Float64Array(k);
  for (let i = 0; i < q; i++) {
    best.fill(-Infinity);
    const qo = i * d;
    for (let r = 0; r < n; r++) {
      const ro = r * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += qn[qo + j] * bankJs[ro + j];
      if (s > best[k - 1]) {
        let p = k - 1;
        while (p > 0 && best[p - 1] < s) {
          best[p] = best[p - 1];
          p--;
        }
        best[p] = s;
      }
    }
    kthJs[i] = -Math.max(0, 2 - 2 * best[k - 1]);
  }
  const t2 = performance.now();
  if (reference) for (let i = 0; i < q; i++) maxDiff = Math.max(maxDiff, Math.abs(kthJs[i] - reference[i]));
  const search = t2 - t1;
  rows.push({
    option: 'plain JS dot loop',
    setup_ms: t1 - t0,
    search_ms: search,
    per_10k_queries_s: (search / q) * 10,
    gflops: flops / search / 1e6,
  });
}

const load = loadavg()
  .map((v) => v.toFixed(2))
  .join(' ');
console.log(`KNN exact search: train ${n}×${d}, ${q} queries, K = ${k}; load average ${load}`);
for (const r of rows) {
  console.log(
    `${r.option.padEnd(36)} setup ${(r.setup_ms / 1000).toFixed(2).padStart(7)} s  search ${(r.search_ms / 1000).toFixed(2).padStart(7)} s  ` +
      `→ ${r.per_10k_queries_s.toFixed(1).padStart(7)} s per 10k queries  (${r.gflops.toFixed(2)} GFLOP/s)`,
  );
}
console.log(`max |difference| of the K-th squared distance between options: ${maxDiff.toExponential(2)}`);
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'knn-search.json');
mkdirSync(dirname(out), { recursive: true });
await writeFileAtomic(out, `${JSON.stringify({ train: n, dim: d, queries: q, k, threads, loadAverage: load, maxDiff, rows }, null, 2)}\n`);
console.log(`wrote ${out}`);
