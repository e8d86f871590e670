/**
 * Metrics throughput: computeOodMetrics (one sort, all five metrics) on 10^6 and 10^7 scores.
 * Run: npm run bench:metrics [-- --sizes 1000000,10000000]
 * Prints a table and writes tools/bench/results/metrics.json.
 */
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Rng, writeFileAtomic } from '@oodkit/core';
import { computeOodMetrics, rankConfidences, rocCurve } from '@oodkit/evaluators';

function parseSizes(argv: readonly string[]): number[] {
  const i = argv.indexOf('--sizes');
  if (i >= 0 && argv[i + 1]) return argv[i + 1]!.split(',').map(Number);
  return [1_000_000, 10_000_000];
}

/** Gaussian scores rounded to float32 (as real postprocessor outputs are), so ties occur as in practice. */
function scores(rng: Rng, n: number, mean: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(rng.normal(mean, 1));
  return out;
}

function time<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}

const rows: Record<string, unknown>[] = [];
const rng = Rng.fromSeed(0).derive('bench.metrics');
for (const total of parseSizes(process.argv.slice(2))) {
  // Half ID, half OOD (as ID test vs one OOD set of equal size).
  const id = scores(rng.derive(`id${total}`), total / 2, 1);
  const ood = scores(rng.derive(`ood${total}`), total / 2, 0);
  const load = loadavg()[0]!.toFixed(2);
  const rank = time(() => rankConfidences(id, ood));
  const roc = time(() => rocCurve(rank.value));
  const all = time(() => computeOodMetrics(id, ood));
  const row = {
    scores: total,
    sortAndGroupMs: Math.round(rank.ms),
    rocCurveMs: Math.round(roc.ms),
    allFiveMetricsMs: Math.round(all.ms),
    distinctValues: rank.value.values.length,
    auroc: all.value.auroc,
    load1m: load,
  };
  rows.push(row);
  console.log(
    `${total.toExponential(0).padStart(6)} scores: all metrics ${row.allFiveMetricsMs} ms ` +
      `(sort+group ${row.sortAndGroupMs} ms, ROC ${row.rocCurveMs} ms), ${row.distinctValues} distinct, load ${load}`,
  );
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'metrics.json');
mkdirSync(dirname(out), { recursive: true });
await writeFileAtomic(out, JSON.stringify({ node: process.version, rows }, null, 2) + '\n');
console.log(`wrote ${out}`);
