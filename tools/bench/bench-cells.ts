/**
 * Scale-out costs of `oodkit bench`: (1) planning a 10,000-cell matrix (the `bench:` section parsed
 * and turned into cells with dependencies — what a launcher does before it submits), and (2) the
 * per-cell overhead of running a cell in a fresh process: node + tsx + module load (`oodkit list`),
 * and a whole `oodkit bench --cell <id>` whose product is already in the store (process start, module
 * load, config load and check, benchmark load, the cell's skip), on a tiny config.
 * Run: npx tsx tools/bench/bench-cells.ts [--seeds 333] [--repeats 3]
 * Prints figures and writes tools/bench/results/bench-cells.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '@oodkit/core';
import { benchCellPlan } from '@oodkit/pipelines';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const bin = join(root, 'apps', 'cli', 'bin', 'oodkit.js');
const seeds = Number(flag('seeds', '333'));
const repeats = Number(flag('repeats', '3'));

// (1) planning: 5 trainers × 2 variants × seeds models, 3 cells each, + generator + summary
const config = {
  sio: { enabled: true, real_ratio: 0.8, synthetic: { name: 'cvae', count: 1000 } },
  bench: {
    trainers: ['base', 'oe', 'logitnorm', 'mixup', 'cutmix'],
    variants: ['baseline', 'sio'],
    seeds: Array.from({ length: seeds }, (_, i) => i),
    postprocessors: ['msp', 'ebo', 'knn', 'vim', 'react'],
  },
};
const planTimes: number[] = [];
let cells = 0;
for (let r = 0; r < repeats; r++) {
  const t0 = performance.now();
  cells = benchCellPlan(config).plan.cells.length;
  planTimes.push(performance.now() - t0);
}
const planMs = Math.min(...planTimes);
console.log(`planning ${cells} cells: ${planMs.toFixed(1)} ms (best of ${repeats}; ${planTimes.map((t) => t.toFixed(1)).join(', ')})`);

// (2) per-cell overhead
const dir = mkdtempSync(join(tmpdir(), 'oodkit-bench-cells-'));
const run = (args: string[]) => {
  const t0 = performance.now();
  const out = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`oodkit ${args.join(' ')} failed: ${out.stderr}`);
  return (performance.now() - t0) / 1000;
};
try {
  const file = join(dir, 'tiny.yml');
  writeFileSync(
    file,
    `benchmark: mnist
compute: { backend: wasm }
network: { name: lenet, args: { num_classes: 10, in_channels: 1 } }
train: { epochs: 1, batch_size: 64, val_batch_size: 256 }
bench:
  variants: [baseline]
  seeds: [0]
  postprocessors: [msp]
  limits: { train: 256, val: 128, test: 128, ood: 64 }
  report: { sample_grid: 2 }
`,
  );
  const args = ['bench', '-c', file, '-o', join(dir, 'out')];
  const full = run(args); // makes every product
  const start: number[] = [];
  const cell: number[] = [];
  for (let r = 0; r < repeats; r++) {
    start.push(run(['list']));
    cell.push(run([...args, '--cell', 'train@0']));
  }
  const best = (xs: number[]) => Math.min(...xs);
  console.log(`in-process tiny matrix (4 cells + summary): ${full.toFixed(2)} s`);
  console.log(
    `process start + module load (oodkit list): ${best(start).toFixed(2)} s (best of ${repeats}: ${start.map((t) => t.toFixed(2)).join(', ')})`,
  );
  console.log(
    `one cached cell in a fresh process (+ config and benchmark load): ${best(cell).toFixed(2)} s (best of ${repeats}: ${cell.map((t) => t.toFixed(2)).join(', ')})`,
  );
  const load = loadavg()[0];
  console.log(`load average (1 min): ${load.toFixed(2)}`);
  const out = join(here, 'results', 'bench-cells.json');
  await writeFileAtomic(
    out,
    `${JSON.stringify({ planning: { cells, ms: planMs, runs: planTimes }, overhead: { processStartSeconds: start, cachedCellSeconds: cell, inProcessTinySeconds: full }, loadAverage: load }, null, 2)}\n`,
  );
  console.log(`wrote ${out}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
