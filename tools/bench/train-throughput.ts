/**
 * Training and inference throughput (images/s) of the project's networks on the active compute
 * backend: `npm run bench:throughput -- [--out file] [--backend auto|wasm|cpu|tensorflow]
 * [--threads N] [--steps 5] [--warmup auto|N] [--warmup-seconds 5] [--nets lenet,resnet18_32x32] [--batch 128]
 * [--train-batch N]`.
 * `--train-batch` sets a smaller training batch where batch 128 does not fit the 4 GiB wasm32 heap
 * (ResNet-18 at 32×32: see BENCHMARKS.md); inference always uses `--batch`.
 * One training step = forward in training mode + softmax cross-entropy + backward + SGD-momentum
 * update, on a fixed random batch; one inference step = forward in eval mode. Each figure is
 * batch / median step time over `--steps` timed steps after `--warmup` untimed ones. 'auto' (the
 * default) warms up for at least 2 steps and until `--warmup-seconds` have passed (at most 200 steps):
 * LeNet steps keep getting faster for the first ~30 (JavaScript JIT of tfjs's engine and ours), and
 * a training run lives in the steady state. tools/bench/pytorch_reference.py uses the same rule.
 * Compare with tools/bench/pytorch_reference.py run right before or after on the same machine.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initCompute, tf, type BackendName } from '@oodkit/compute';
import { Rng, createLogger, writeFileAtomicSync, type BuildContext, type Classifier } from '@oodkit/core';
import { lenet, lenetArgs, resnet18_32x32, resnet18_32x32Args } from '@oodkit/networks';

interface Workload {
  name: string;
  build: (ctx: BuildContext) => Classifier | Promise<Classifier>;
}

const WORKLOADS: Record<string, Workload> = {
  lenet: { name: 'lenet', build: (ctx) => lenet.create(lenetArgs.parse({}), ctx) },
  resnet18_32x32: {
    name: 'resnet18_32x32',
    build: (ctx) => resnet18_32x32.create(resnet18_32x32Args.parse({}), ctx),
  },
};

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'results/bench/train-throughput.json' },
    backend: { type: 'string', default: 'auto' },
    threads: { type: 'string' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: 'auto' },
    'warmup-seconds': { type: 'string', default: '5' },
    nets: { type: 'string', default: 'lenet,resnet18_32x32' },
    batch: { type: 'string', default: '128' },
    'train-batch': { type: 'string' },
  },
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Untimed steps: `warmup` of them, or for 'auto' at least 2 and until `seconds` have passed (≤ 200). */
function warmUp(step: () => void, warmup: number | 'auto', seconds: number): number {
  if (warmup !== 'auto') {
    for (let i = 0; i < warmup; i++) step();
    return warmup;
  }
  const t0 = performance.now();
  let n = 0;
  while (n < 2 || (n < 200 && performance.now() - t0 < seconds * 1000)) {
    step();
    n++;
  }
  return n;
}

function timeSteps(step: () => void, steps: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  return times;
}

async function main() {
  const logger = createLogger('info', 'bench');
  const info = await initCompute({
    backend: opts.backend as BackendName | 'auto',
    logger,
    ...(opts.threads ? { threads: Number(opts.threads) } : {}),
  });
  const steps = Number(opts.steps);
  const warmup: number | 'auto' = opts.warmup === 'auto' ? 'auto' : Number(opts.warmup);
  const warmupSeconds = Number(opts['warmup-seconds']);
  if (warmup !== 'auto' && !(Number.isInteger(warmup) && warmup >= 0))
    throw new Error(`--warmup: expected 'auto' or a count ≥ 0, got '${opts.warmup}'`);
  if (!(warmupSeconds >= 0)) throw new Error(`--warmup-seconds: expected a number ≥ 0, got '${opts['warmup-seconds']}'`);
  const rng = Rng.fromSeed(0);
  const results = [];
  for (const name of opts.nets.split(',')) {
    const w = WORKLOADS[name];
    if (!w) throw new Error(`--nets: unknown network '${name}'; expected ${Object.keys(WORKLOADS).join(', ')}`);
    const ctx = { rng: rng.derive(name), logger, config: {}, registry: undefined } as unknown as BuildContext;
    const net = await w.build(ctx);
    const [h, wd, c] = net.inputShape;
    const batch = Number(opts.batch);
    const trainBatch = Number(opts['train-batch'] ?? opts.batch);
    const dataRng = rng.derive(`${name}.data`);
    const xs = new Float32Array(batch * h * wd * c).map(() => dataRng.normal());
    const x = tf.tensor4d(xs, [batch, h, wd, c]);
    const xTrain = trainBatch === batch ? x : tf.slice(x, [0, 0, 0, 0], [trainBatch, h, wd, c]);
    const labels = Int32Array.from({ length: trainBatch }, () => dataRng.int(0, net.numClasses));
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), net.numClasses).toFloat();
    const opt = tf.train.momentum(0.01, 0.9);
    const vars = net.trainableVariables();

    const trainStep = () => {
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, net.forward(xTrain, true)) as tf.Scalar, true, vars)!;
      loss.dataSync();
      loss.dispose();
    };
    const inferStep = () => {
      const logits = net.forward(x, false);
      logits.dataSync();
      logits.dispose();
    };
    logger.info(`${name}: warming up (${warmup}) and timing ${steps} training steps, batch ${trainBatch}`);
    trainStep(); // creates the optimizer's slots; from here on the tensor count must not move
    const before = tf.memory().numTensors;
    const trainWarmup = 1 + warmUp(trainStep, warmup === 'auto' ? 'auto' : Math.max(0, warmup - 1), warmupSeconds);
    const train = timeSteps(trainStep, steps);
    if (tf.memory().numTensors !== before) logger.warn(`${name}: tensor count changed during training (leak)`);
    logger.info(`${name}: warming up (${warmup}) and timing ${steps} inference steps`);
    const inferWarmup = warmUp(inferStep, warmup, warmupSeconds);
    const infer = timeSteps(inferStep, steps);
    const r = {
      network: name,
      batch,
      train_batch: trainBatch,
      train_images_per_s: (trainBatch * 1000) / median(train),
      infer_images_per_s: (batch * 1000) / median(infer),
      train_warmup_steps: trainWarmup,
      infer_warmup_steps: inferWarmup,
      train_step_ms: train.map((t) => Math.round(t * 10) / 10),
      infer_step_ms: infer.map((t) => Math.round(t * 10) / 10),
    };
    console.log(
      `${name.padEnd(16)} train ${r.train_images_per_s.toFixed(1).padStart(8)} img/s   infer ${r.infer_images_per_s.toFixed(1).padStart(8)} img/s`,
    );
    results.push(r);
    opt.dispose();
    net.dispose();
    tf.dispose([x, xTrain, y]);
  }
  const report = {
    tool: 'tools/bench/train-throughput.ts',
    date: new Date().toISOString(),
    backend: info.backend,
    reason: info.reason,
    threads: info.threads,
    node: process.version,
    cpus: os.cpus().length,
    loadavg: os.loadavg(),
    warmup,
    warmup_seconds: warmupSeconds,
    steps,
    results,
  };
  const out = path.resolve(opts.out);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileAtomicSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

await main();
