/**
 * Images/s the data loader delivers: `npm run bench:loader -- [--out file] [--pngs 5000] [--epochs 1]`.
 * Workloads:
 *   mnist-idx        embedded MNIST train (60k, idx in memory), benchmark train chain
 *                    (flip + random crop pad 4 + normalize), batch 128, shuffled
 *   imglist-png-32   N generated 32×32 RGB PNGs in a temp dir, OpenOOD image list, decoded with sharp,
 *                    CIFAR train chain, batch 128, shuffled
 *   imglist-png-32+mem the same with `cache: memory`, measured after one epoch filled the cache
 *   imglist-png-64→32  the same images written at 64×64, decoded with Resize(32)+CenterCrop(32)
 *   … w2               the same lists decoded in 2 worker_threads (`workers: 2`)
 * Each is measured twice: host batches (decode + augment, float32 arrays) and tensor batches
 * (plus tf.tensor creation and disposal, what a trainer receives). Figure = images / wall time of
 * whole epochs after one warm-up batch; the JS thread's busy share (event-loop utilisation) shows how
 * much of the main thread the loader takes (sharp decodes on libuv's pool, off that thread).
 * Compare with LeNet training throughput (bench:throughput).
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, createOodkitContainer, registryOf, silentLogger, type ImageDataset } from '@oodkit/core';
import {
  DataLoader,
  GeneratedDataset,
  ImglistDataset,
  dataModule,
  disposeBatch,
  horizontalFlip,
  loadBenchmark,
  normalize,
  randomCrop,
  type Preprocessor,
} from '@oodkit/data';

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'results/bench/loader-throughput.json' },
    pngs: { type: 'string', default: '5000' },
    epochs: { type: 'string', default: '1' },
    batch: { type: 'string', default: '128' },
  },
});
const batchSize = Number(opts.batch);
const epochs = Number(opts.epochs);

interface Figure {
  workload: string;
  mode: 'host' | 'tensor';
  images: number;
  seconds: number;
  imagesPerSecond: number;
  /** Share of the wall time the JS thread was busy (the rest is free for the trainer). */
  eventLoopUtilization: number;
}

async function measure(
  workload: string,
  dataset: ImageDataset,
  chain: Preprocessor[],
  mode: 'host' | 'tensor',
  warmWholeEpoch = false,
): Promise<Figure> {
  const loader = new DataLoader(dataset, { batchSize, shuffle: true, rng: Rng.fromSeed(0), preprocess: chain, prefetch: 4 });
  // warm-up: first batch (JIT, sharp init, page cache), or a whole epoch to fill a decode cache
  for await (const b of loader.hostEpoch(99)) {
    void b;
    if (!warmWholeEpoch) break;
  }
  const before = tf.memory().numTensors;
  const elu = performance.eventLoopUtilization();
  const start = performance.now();
  let images = 0;
  for (let e = 0; e < epochs; e++) {
    if (mode === 'host') {
      for await (const host of loader.hostEpoch(e)) images += host.n;
    } else {
      for await (const batch of loader.epoch(e)) {
        images += batch.indices.length;
        disposeBatch(batch);
      }
    }
  }
  const seconds = (performance.now() - start) / 1000;
  if (tf.memory().numTensors !== before) throw new Error(`${workload}: leaked ${tf.memory().numTensors - before} tensors`);
  const busy = performance.eventLoopUtilization(elu).utilization;
  const figure = {
    workload,
    mode,
    images,
    seconds: +seconds.toFixed(3),
    imagesPerSecond: Math.round(images / seconds),
    eventLoopUtilization: +busy.toFixed(3),
  };
  console.log(
    `${workload.padEnd(21)} ${mode.padEnd(6)} ${String(figure.imagesPerSecond).padStart(8)} images/s  (${images} images in ${figure.seconds} s, JS thread busy ${(100 * busy).toFixed(0)} %)`,
  );
  return figure;
}

async function writePngs(dir: string, count: number, size: number): Promise<string> {
  const source = new GeneratedDataset('src', 'perlin', count, [size, size, 3], 7, 10);
  const lines: string[] = [];
  mkdirSync(path.join(dir, 'img'), { recursive: true });
  for (let start = 0; start < count; start += 256) {
    const ids = Array.from({ length: Math.min(256, count - start) }, (_, k) => start + k);
    const px = await source.readImages(ids);
    await Promise.all(
      ids.map(async (i, k) => {
        const file = `img/${i}.png`;
        await sharp(px.subarray(k * size * size * 3, (k + 1) * size * size * 3), { raw: { width: size, height: size, channels: 3 } })
          .png()
          .toFile(path.join(dir, file));
        lines[i] = `${file} ${i % 10}`;
      }),
    );
  }
  const list = path.join(dir, 'list.txt');
  writeFileSync(list, `${lines.join('\n')}\n`);
  return list;
}

await initCompute({ backend: 'cpu' });
const registry = registryOf(createOodkitContainer([dataModule]));
const figures: Figure[] = [];
const mnist = await loadBenchmark('mnist', registry, { logger: silentLogger, rng: Rng.fromSeed(0), config: {} });
const mnistTrain = await registry.build<ImageDataset>(
  'dataset',
  { name: 'mnist', args: { split: 'train' } },
  { logger: silentLogger, rng: Rng.fromSeed(0), config: {} },
);
for (const mode of ['host', 'tensor'] as const) figures.push(await measure('mnist-idx', mnistTrain, mnist.preprocess.train, mode));

const cifarChain = [horizontalFlip(0.5), randomCrop(32, 32, 4), normalize([0.4914, 0.4822, 0.4465], [0.247, 0.2435, 0.2616])];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'oodkit-loader-bench-'));
try {
  const count = Number(opts.pngs);
  const list32 = await writePngs(path.join(tmp, 's32'), count, 32);
  const ds32 = await ImglistDataset.open({ list: list32, root: path.dirname(list32), numClasses: 10, channels: 3, missing: 'fail' });
  for (const mode of ['host', 'tensor'] as const) figures.push(await measure('imglist-png-32', ds32, cifarChain, mode));
  const pooled32 = await ImglistDataset.open({
    list: list32,
    root: path.dirname(list32),
    numClasses: 10,
    channels: 3,
    missing: 'fail',
    workers: 2,
  });
  for (const mode of ['host', 'tensor'] as const) figures.push(await measure('imglist-png-32 w2', pooled32, cifarChain, mode));
  await pooled32.close();
  const cached32 = await ImglistDataset.open({
    list: list32,
    root: path.dirname(list32),
    numClasses: 10,
    channels: 3,
    missing: 'fail',
    cache: 'memory',
  });
  for (const mode of ['host', 'tensor'] as const) figures.push(await measure('imglist-png-32+mem', cached32, cifarChain, mode, true));
  const list64 = await writePngs(path.join(tmp, 's64'), count, 64);
  const ds64 = await ImglistDataset.open({
    list: list64,
    root: path.dirname(list64),
    numClasses: 10,
    imageSize: 32,
    channels: 3,
    missing: 'fail',
  });
  for (const mode of ['host', 'tensor'] as const) figures.push(await measure('imglist-png-64→32', ds64, cifarChain, mode));
  const pooled64 = await ImglistDataset.open({
    list: list64,
    root: path.dirname(list64),
    numClasses: 10,
    imageSize: 32,
    channels: 3,
    missing: 'fail',
    workers: 2,
  });
  for (const mode of ['host', 'tensor'] as const) figures.push(await measure('imglist-png-64→32 w2', pooled64, cifarChain, mode));
  await pooled64.close();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const result = {
  command: `npm run bench:loader -- --pngs ${opts.pngs} --epochs ${epochs} --batch ${batchSize}`,
  machine: {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model,
    loadavg: os.loadavg().map((v) => +v.toFixed(2)),
    node: process.version,
    uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
  },
  batchSize,
  figures,
};
const out = path.resolve(opts.out!);
mkdirSync(path.dirname(out), { recursive: true });
const tmpOut = `${out}.${process.pid}.tmp`;
writeFileSync(tmpOut, `${JSON.stringify(result, null, 2)}\n`);
renameSync(tmpOut, out);
console.log(`load average ${result.machine.loadavg.join(' ')}; written ${out}`);
