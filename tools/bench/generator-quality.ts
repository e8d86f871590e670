/**
 * Synthetic-sample quality of a generator (not CI): train it on the embedded MNIST training split
 * (or take it from the cache), generate a class-balanced set, and classify the samples with an
 * independently trained LeNet (a checkpoint of real-MNIST training, e.g. from `npm run bench:train`).
 * Reports per-class and overall accuracy of that classifier on the samples (and on the real test set,
 * for scale), the generator's training time, and writes a PNG grid (one row per class).
 *   npm run bench:generator -- --classifier results/bench/train-reference/lenet_base/checkpoints/best.ckpt
 *     [--generator cvae] [--args '{"epochs":6}'] [--count 5000] [--backend wasm]
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, createLogger, createOodkitContainer, registryOf, type Classifier, type ImageDataset } from '@oodkit/core';
import { cacheDir, dataModule, orderedBatches, type Preprocessor } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import { trainersModule } from '@oodkit/trainers';
import { generateSynthetic, sioModule } from '@oodkit/sio';
import { buildTrainData, loadTrainedNetwork } from '@oodkit/pipelines';

const { values: opts } = parseArgs({
  options: {
    classifier: { type: 'string', default: 'results/bench/train-reference/lenet_base/checkpoints/best.ckpt' },
    generator: { type: 'string', default: 'cvae' },
    args: { type: 'string', default: '{}' },
    count: { type: 'string', default: '5000' },
    backend: { type: 'string', default: 'wasm' },
    out: { type: 'string', default: 'results/bench/generator-quality.json' },
    png: { type: 'string', default: 'results/bench/generator-grid.png' },
  },
});

const logger = createLogger('info', 'generator-quality');
const load = () =>
  os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
const loadBefore = load();
await initCompute({ backend: opts.backend as 'wasm', logger });
const registry = registryOf(createOodkitContainer([dataModule, networksModule, trainersModule, sioModule]));
const config = { benchmark: 'mnist' };
const data = await buildTrainData(config, { registry, logger, rng: Rng.fromSeed(0).derive('data') });

let lastEpoch = -1;
const generated = await generateSynthetic({
  generator: { name: opts.generator, args: JSON.parse(opts.args) as Record<string, unknown> },
  count: Number(opts.count),
  real: data.train,
  cacheRoot: cacheDir(config),
  ctx: { registry, logger, config },
  onProgress: (p) => {
    if (p.step + 1 === p.steps && p.epoch !== lastEpoch) {
      lastEpoch = p.epoch;
      logger.info(`generator epoch ${p.epoch + 1}/${p.epochs}: loss ${p.loss.toFixed(2)}`);
    }
  },
});
logger.info(
  `generator ${generated.cached ? 'from cache' : 'trained'} (${generated.trainSeconds?.toFixed(1)} s of training): ${generated.imagesPath}`,
);

async function predict(network: Classifier, dataset: ImageDataset, preprocess: readonly Preprocessor[]): Promise<Int32Array> {
  const out = new Int32Array(dataset.length);
  let offset = 0;
  for await (const batch of orderedBatches(dataset, { batchSize: 1000, preprocess })) {
    const pred = tf.tidy(() => network.forward(batch.x, false).argMax(1));
    out.set((await pred.data()) as Int32Array, offset);
    offset += batch.indices.length;
    pred.dispose();
    batch.x.dispose();
    batch.y.dispose();
  }
  return out;
}

function accuracy(pred: Int32Array, labels: Int32Array, numClasses: number): { overall: number; perClass: number[] } {
  const hit = new Array<number>(numClasses).fill(0);
  const count = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    count[labels[i]!]!++;
    if (pred[i] === labels[i]) hit[labels[i]!]!++;
  }
  return { overall: hit.reduce((a, b) => a + b, 0) / labels.length, perClass: hit.map((h, c) => h / Math.max(1, count[c]!)) };
}

const { network, meta } = await loadTrainedNetwork(path.resolve(opts.classifier), registry, logger);
const synthetic = accuracy(await predict(network, generated.dataset, data.testChain), generated.dataset.labels, data.train.numClasses);
const real = accuracy(await predict(network, data.test, data.testChain), data.test.labels, data.train.numClasses);
network.dispose();

// PNG grid: row c = the first 12 samples of class c.
const [h, w] = data.train.imageShape;
const cols = 12;
const rows = data.train.numClasses;
const pad = 2;
const W = cols * (w + pad) + pad;
const H = rows * (h + pad) + pad;
const canvas = new Uint8Array(W * H).fill(40);
const perClassIdx = Array.from({ length: rows }, () => [] as number[]);
generated.dataset.labels.forEach((label, i) => {
  if (perClassIdx[label]!.length < cols) perClassIdx[label]!.push(i);
});
for (let r = 0; r < rows; r++) {
  const px = await generated.dataset.readImages(perClassIdx[r]!);
  perClassIdx[r]!.forEach((_, k) => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) canvas[(pad + r * (h + pad) + y) * W + pad + k * (w + pad) + x] = px[k * h * w + y * w + x]!;
    }
  });
}
mkdirSync(path.dirname(path.resolve(opts.png)), { recursive: true });
await sharp(Buffer.from(canvas), { raw: { width: W, height: H, channels: 1 } })
  .resize(W * 3, H * 3, { kernel: 'nearest' })
  .png()
  .toFile(opts.png);

const result = {
  generator: opts.generator,
  settings: generated.cacheKey,
  count: generated.dataset.length,
  trainSeconds: generated.trainSeconds,
  fromCache: generated.cached,
  classifier: {
    checkpoint: opts.classifier,
    network: meta.network.name,
    epoch: meta.position.epoch,
    realTestAccuracy: real.overall,
  },
  sampleAccuracy: synthetic.overall,
  sampleAccuracyPerClass: synthetic.perClass,
  png: opts.png,
  backend: opts.backend,
  loadAverageBefore: loadBefore,
  loadAverageAfter: load(),
  date: new Date().toISOString(),
};
console.log(JSON.stringify(result, null, 2));
mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
const tmp = `${opts.out}.${process.pid}.tmp`;
writeFileSync(tmp, `${JSON.stringify(result, null, 2)}\n`);
renameSync(tmp, opts.out);
