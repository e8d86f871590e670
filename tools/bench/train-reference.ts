/**
 * Reference training figures (not CI): LeNet + base trainer on the embedded MNIST benchmark through
 * the real train pipeline, reporting test accuracy and seconds per epoch.
 *   npm run bench:train -- [--epochs 5] [--backend wasm] [--out results/bench/train-reference.json] [--resume | --overwrite]
 * The run folder (checkpoints, train.json) goes to results/bench/train-reference/ and is reused by
 * `npm run bench:generator -- --classifier results/bench/train-reference/lenet_base/checkpoints/best.ckpt`.
 */
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, createOodkitContainer, registryOf } from '@oodkit/core';
import { dataModule, resolveBenchmarkValue } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import { trainersModule } from '@oodkit/trainers';
import { sioModule } from '@oodkit/sio';
import { runTraining } from '@oodkit/pipelines';

const { values: opts } = parseArgs({
  options: {
    epochs: { type: 'string', default: '5' },
    backend: { type: 'string', default: 'wasm' },
    seed: { type: 'string', default: '0' },
    out: { type: 'string', default: 'results/bench/train-reference.json' },
    'run-root': { type: 'string', default: 'results/bench/train-reference' },
    resume: { type: 'boolean', default: false },
    // A finished run folder is kept: rerun with --resume (reuses it) or --overwrite (moves it aside).
    overwrite: { type: 'boolean', default: false },
    // OpenOOD's train chain flips digits horizontally; --no-flip measures LeNet without that step.
    'no-flip': { type: 'boolean', default: false },
  },
});

const logger = createLogger('info', 'train-reference');
const registry = registryOf(createOodkitContainer([dataModule, networksModule, trainersModule, sioModule]));
const load = () =>
  os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
const loadBefore = load();
const benchmark = (await resolveBenchmarkValue('mnist')) as { preprocessor: { train: { name: string }[] } };
if (opts['no-flip']) benchmark.preprocessor.train = benchmark.preprocessor.train.filter((step) => step.name !== 'horizontal_flip');
const started = performance.now();
const summary = await runTraining(
  {
    seed: Number(opts.seed),
    benchmark,
    compute: { backend: opts.backend },
    network: { name: 'lenet', args: { num_classes: 10, in_channels: 1 } },
    trainer: { name: 'base', args: { lr: 0.1 } },
    train: { epochs: Number(opts.epochs), batch_size: 128, val_batch_size: 1000, checkpoint_every: 200 },
    output_dir: opts['run-root'],
    exp_name: opts['no-flip'] ? 'lenet_base_noflip' : 'lenet_base',
  },
  {
    registry,
    logger,
    resume: opts.resume,
    overwrite: opts.overwrite,
    hooks: {
      onEpochEnd: (r) =>
        logger.info(
          `epoch ${r.epoch + 1}: loss ${r.meanLoss.toFixed(4)} val ${((r.valAccuracy ?? 0) * 100).toFixed(2)}% ${r.seconds.toFixed(1)} s`,
        ),
    },
  },
);
const total = (performance.now() - started) / 1000;
const epochSeconds = summary.history.map((h) => h.seconds);
const result = {
  workload: 'lenet + base trainer, embedded MNIST (55k train / 5k val / 10k test), batch 128',
  trainChain: benchmark.preprocessor.train.map((step) => step.name),
  backend: opts.backend,
  epochs: summary.history.length,
  testAccuracy: summary.testAccuracy,
  bestValAccuracy: summary.bestValAccuracy,
  secondsPerEpoch: epochSeconds,
  meanSecondsPerEpoch: epochSeconds.reduce((a, b) => a + b, 0) / Math.max(1, epochSeconds.length),
  totalSeconds: total,
  loadAverageBefore: loadBefore,
  loadAverageAfter: load(),
  cpus: os.cpus().length,
  runDir: summary.runDir,
  date: new Date().toISOString(),
};
console.log(JSON.stringify(result, null, 2));
mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
const tmp = `${opts.out}.${process.pid}.tmp`;
writeFileSync(tmp, `${JSON.stringify(result, null, 2)}\n`);
renameSync(tmp, opts.out);
