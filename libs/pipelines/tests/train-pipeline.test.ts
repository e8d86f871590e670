import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { componentModule, createOodkitContainer, registryOf, writeNpy, type ComponentRegistry, type ImageDataset } from '@oodkit/core';
import { initCompute } from '@oodkit/compute';
import { dataModule } from '@oodkit/data';
import { Rng, silentLogger } from '@oodkit/core';
import { pipelinesModule } from '../src/module.js';
import type { TrainPipeline } from '../src/train/pipeline.js';
import { sioModule } from '@oodkit/sio';
import { readCheckpoint } from '../src/train/checkpoint.js';
import { runTraining, trainingConfigHash } from '../src/train/pipeline.js';
import { seenBatches, seenOutliers, tinyBenchmark, tinyComponents } from './fixtures/tiny-components.js';

let root: string;
let registry: ComponentRegistry;
const previousCache = process.env.OODKIT_CACHE_DIR;

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'oodkit-train-pipeline-'));
  process.env.OODKIT_CACHE_DIR = join(root, 'cache');
  registry = registryOf(createOodkitContainer([dataModule, sioModule, pipelinesModule, componentModule('fixtures', tinyComponents)]));
});
afterAll(() => {
  if (previousCache === undefined) delete process.env.OODKIT_CACHE_DIR;
  else process.env.OODKIT_CACHE_DIR = previousCache;
  rmSync(root, { recursive: true, force: true });
});
beforeEach(() => {
  seenBatches.length = 0;
});

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    seed: 3,
    output_dir: root,
    compute: { backend: 'cpu' },
    benchmark: tinyBenchmark({
      train: { name: 'tiny', args: { count: 40, seed: 1 } },
      val: { name: 'tiny', args: { count: 15, seed: 2 } },
      test: { name: 'tiny', args: { count: 15, seed: 3 } },
    }),
    network: { name: 'tiny_mlp' },
    trainer: { name: 'tiny_sgd' },
    train: { epochs: 2, batch_size: 10, checkpoint_every: 2 },
    ...extra,
  };
}

async function writePair(name: string, count: number, shape: number[], label = 1) {
  const images = join(root, `${name}-images.npy`);
  const labels = join(root, `${name}-labels.npy`);
  await writeNpy(images, { data: new Uint8Array(count * shape.reduce((a, b) => a * b, 1)).fill(128), shape: [count, ...shape] });
  await writeNpy(labels, { data: new BigInt64Array(count).fill(BigInt(label)) });
  return { images, labels };
}

describe('runTraining (train pipeline from a config)', () => {
  it('trains without SIO: run folder with config.yml, train.json, best/last checkpoints and test accuracy', async () => {
    const summary = await runTraining(config({ exp_name: 'plain' }), { registry });
    expect(summary.runDir).toBe(join(root, 'plain'));
    for (const f of ['config.yml', 'train.json', 'checkpoints/last.ckpt', 'checkpoints/best.ckpt'])
      expect(existsSync(join(summary.runDir, f))).toBe(true);
    expect(summary.history).toHaveLength(2);
    expect(summary.testAccuracy).not.toBeNull();
    expect(summary.stream).toMatch(/40 images, batch 10, 4 steps\/epoch/);
    // no synthetic index ever reached the trainer
    expect(seenBatches.every((b) => b.every((i) => i < 40))).toBe(true);
    const last = await readCheckpoint(join(summary.runDir, 'checkpoints/last.ckpt'));
    expect(last.meta.configHash).toBe(trainingConfigHash(config({ exp_name: 'plain' })));
    expect(JSON.parse(readFileSync(join(summary.runDir, 'train.json'), 'utf8')).configHash).toBe(summary.configHash);
  });

  it('with an sio block of .npy files the same trainer receives 80/20 real/synthetic batches', async () => {
    const pair = await writePair('syn', 30, [4, 4, 1]);
    const summary = await runTraining(config({ exp_name: 'sio-files', sio: { real_ratio: 0.8, synthetic: pair } }), { registry });
    expect(summary.stream).toMatch(/^SIO: 40 real \+ 30 synthetic/);
    expect(seenBatches).toHaveLength(8);
    for (const b of seenBatches) {
      expect(b.filter((i) => i < 40)).toHaveLength(8);
      expect(b.filter((i) => i >= 40)).toHaveLength(2);
    }
    // the resume hash differs from the plain run's: SIO changes what is trained
    expect(summary.configHash).not.toBe(trainingConfigHash(config({ exp_name: 'sio-files' })));
  });

  it('with sio.synthetic.generator it trains the generator once, caches it and trains on its samples', async () => {
    const sio = { real_ratio: 0.5, synthetic: { name: 'cvae', count: 20, args: { hidden: 8, latent: 2, epochs: 1, batch_size: 20 } } };
    const first = await runTraining(config({ exp_name: 'sio-gen', sio }), { registry });
    expect(first.stream).toMatch(/^SIO: 40 real \+ 20 synthetic \(cvae-[0-9a-f]{16}\)/);
    expect(seenBatches.some((b) => b.some((i) => i >= 40))).toBe(true);
    const progress: number[] = [];
    await runTraining(config({ exp_name: 'sio-gen-2', sio }), { registry, onGenerator: (p) => progress.push(p.step) });
    expect(progress).toEqual([]); // served from the cache: no generator training the second time
  });

  it('rejects synthetic data of another image size unless sio.resize is set, naming the file', async () => {
    const pair = await writePair('big', 6, [8, 8, 1]);
    await expect(runTraining(config({ exp_name: 'bad', sio: { synthetic: pair } }), { registry })).rejects.toThrow(
      /big-images\.npy: synthetic images are 8×8×1 but the real training images are 4×4×1/,
    );
    const ok = await runTraining(config({ exp_name: 'resized', sio: { resize: true, synthetic: pair } }), { registry });
    expect(ok.stream).toMatch(/40 real \+ 6 synthetic/);
  });

  it("reads the benchmark through the data lib's loader: its data_dir and declared image shape hold for training too", async () => {
    const dir = join(root, 'bench-data');
    mkdirSync(dir, { recursive: true });
    const split = async (name: string, count: number) => {
      await writeNpy(join(dir, `${name}-images.npy`), {
        data: Uint8Array.from({ length: count * 16 }, (_, i) => (i * 7) % 256),
        shape: [count, 4, 4, 1],
      });
      await writeNpy(join(dir, `${name}-labels.npy`), { data: BigInt64Array.from({ length: count }, (_, i) => BigInt(i % 3)) });
      return { name: 'npy', args: { images: `${name}-images.npy`, labels: `${name}-labels.npy`, num_classes: 3 } };
    };
    const id = { train: await split('train', 20), val: await split('val', 6), test: await split('test', 6) };
    // Relative to the benchmark's data_dir (itself relative to the config's), as feat-extract and bench read them.
    const benchmark = { ...tinyBenchmark(id), data_dir: 'bench-data' };
    const summary = await runTraining(config({ exp_name: 'bench-dir', data_dir: root, benchmark }), { registry });
    expect(summary.stream).toMatch(/20 images, batch 10, 2 steps\/epoch/);
    await expect(
      runTraining(config({ exp_name: 'bench-shape', data_dir: root, benchmark: { ...benchmark, image_shape: [8, 8, 1] } }), { registry }),
    ).rejects.toThrow(
      /benchmark\.id\.train: .* has images of shape \[4, 4, 1\] but benchmark 'tinybench' declares image_shape \[8, 8, 1\]/,
    );
  });

  it("feeds outliers through the ID test chain, restarting the outlier pass after its short last batch, as OpenOOD's OE trainer", async () => {
    seenOutliers.length = 0;
    const benchmark = {
      ...(config().benchmark as Record<string, unknown>),
      // a train chain that visibly differs from the test chain: every image mirrored
      preprocessor: { train: [{ name: 'horizontal_flip', args: { p: 1 } }, { name: 'normalize' }], test: [{ name: 'normalize' }] },
    };
    const outlier = { name: 'tiny', args: { count: 10, seed: 9 } };
    await runTraining(
      config({
        exp_name: 'oe-protocol',
        benchmark,
        trainer: { name: 'tiny_outlier_sgd' },
        train: { epochs: 2, batch_size: 10, outlier, outlier_batch_size: 4 },
      }),
      { registry },
    );
    // 4 steps per epoch over 10 outliers in batches of 4: 4, 4, 2, then a fresh pass; again from the start each epoch
    expect(seenOutliers.map((b) => b.indices.length)).toEqual([4, 4, 2, 4, 4, 4, 2, 4]);
    const pass = (from: number) =>
      seenOutliers
        .slice(from, from + 3)
        .flatMap((b) => [...b.indices])
        .sort((a, b) => a - b);
    expect(pass(0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(pass(4)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // pixels = (p / 255 − 0.5) / 0.5 of the unflipped outlier images: the test chain
    const source = await registry.build<ImageDataset>('dataset', outlier, { logger: silentLogger, rng: Rng.fromSeed(0), config: {} });
    for (const b of seenOutliers) {
      const raw = await source.readImages(b.indices);
      expect(Array.from(b.x)).toEqual(Array.from(raw, (p) => Math.fround(Math.fround(Math.fround(p / 255) - 0.5) / 0.5)));
    }
  });

  it('resumes a finished run without retraining and refuses a changed config', async () => {
    const cfg = config({ exp_name: 'resume' });
    await runTraining(cfg, { registry });
    seenBatches.length = 0;
    const again = await runTraining(cfg, { registry, resume: true });
    expect(seenBatches).toHaveLength(0);
    expect(again.resumedFrom).toEqual({ epoch: 2, stepInEpoch: 0, globalStep: 8 });
    await expect(runTraining({ ...cfg, train: { epochs: 3, batch_size: 10 } }, { registry, resume: true })).rejects.toThrow(
      /different training config/,
    );
  });

  it('is registered as pipeline component `train` and runs the config it was built with', async () => {
    const cfg = config({ exp_name: 'as-component', pipeline: { name: 'train' } });
    const pipeline = await registry.build<TrainPipeline>('pipeline', 'train', { logger: silentLogger, rng: Rng.fromSeed(0), config: cfg });
    const summary = await pipeline.run({});
    expect(summary.runDir).toBe(join(root, 'as-component'));
    expect(summary.globalStep).toBe(8);
  });
});
