import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, type ImageDataset } from '@oodkit/core';
import { DataLoader, disposeBatch, type BatchProgress } from '../src/loader/data-loader.js';
import { MemoryDataset } from '../src/datasets/base.js';
import { ConcatDataset } from '../src/datasets/views.js';
import { TwoSourceSampler } from '../src/sampling/two-source-sampler.js';
import { horizontalFlip } from '../src/preprocessors/horizontal-flip.js';
import { normalize } from '../src/preprocessors/normalize.js';
import { range } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/** Image i is filled with the value i % 256, label i % 10: batches reveal exactly which samples they hold. */
const labelled = (n: number, value = (i: number) => i % 256): ImageDataset =>
  new MemoryDataset(
    'seq',
    Uint8Array.from(range(n * 4), (p) => value(Math.floor(p / 4))),
    [2, 2, 1],
    10,
    Int32Array.from(range(n), (i) => i % 10),
  );

describe('DataLoader', () => {
  it('covers every sample once per epoch, shuffled reproducibly, with float32 NHWC x and int32 y', async () => {
    const ds = labelled(103);
    const loader = new DataLoader(ds, { batchSize: 10, shuffle: true, rng: Rng.fromSeed(4) });
    expect(loader.batchesPerEpoch()).toBe(11);
    const seen: number[] = [];
    const before = tf.memory().numTensors;
    for await (const batch of loader.epoch(0)) {
      expect(batch.x.shape).toEqual([batch.indices.length, 2, 2, 1]);
      expect(batch.x.dtype).toBe('float32');
      expect(batch.y.dtype).toBe('int32');
      const x = batch.x.dataSync();
      const y = batch.y.dataSync();
      batch.indices.forEach((i, k) => {
        expect(x[k * 4]).toBeCloseTo(i / 255, 6);
        expect(y[k]).toBe(i % 10);
      });
      seen.push(...batch.indices);
      disposeBatch(batch);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(seen.slice().sort((a, b) => a - b)).toEqual(range(103));
    expect(seen.slice(0, 10)).not.toEqual(range(10));
    const again = new DataLoader(ds, { batchSize: 10, shuffle: true, rng: Rng.fromSeed(4) }).indexBatches(0);
    expect([...again[0]]).toEqual(seen.slice(0, 10));
    expect([...loader.indexBatches(1)[0]]).not.toEqual(seen.slice(0, 10));
    expect(new DataLoader(ds, { batchSize: 10, dropLast: true }).batchesPerEpoch()).toBe(10);
  });

  it('random augmentation is the same whatever the prefetch depth, and reports progress per batch', async () => {
    const ds = labelled(64, (i) => i * 3);
    const run = async (prefetch: number) => {
      const progress: BatchProgress[] = [];
      const loader = new DataLoader(ds, {
        batchSize: 16,
        shuffle: true,
        rng: Rng.fromSeed(2),
        preprocess: [horizontalFlip(0.5), normalize([0.5], [0.25])],
        prefetch,
        onBatch: (p) => progress.push(p),
      });
      const xs: number[] = [];
      for await (const host of loader.hostEpoch(3)) xs.push(...host.data);
      return { xs, progress };
    };
    const a = await run(1);
    const b = await run(4);
    expect(b.xs).toEqual(a.xs);
    expect(a.progress.map((p) => [p.batch, p.batches, p.size, p.seen])).toEqual([
      [0, 4, 16, 16],
      [1, 4, 16, 32],
      [2, 4, 16, 48],
      [3, 4, 16, 64],
    ]);
  });

  it('stopping early leaks no tensors', async () => {
    const loader = new DataLoader(labelled(100), { batchSize: 10, prefetch: 4 });
    const before = tf.memory().numTensors;
    for await (const batch of loader.epoch()) {
      disposeBatch(batch);
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('takes its batches from a TwoSourceSampler over real ⧺ synthetic', async () => {
    const real = labelled(50);
    const synthetic = new MemoryDataset('syn', new Uint8Array(30 * 4).fill(255), [2, 2, 1], 10, new Int32Array(30).fill(3));
    const both = new ConcatDataset('real+syn', [real, synthetic]);
    const sampler = new TwoSourceSampler({ realCount: 50, synCount: 30, batchSize: 10, realRatio: 0.8, rng: Rng.fromSeed(8) });
    const loader = new DataLoader(both, { batchSize: 10, indexSource: sampler });
    expect(loader.batchesPerEpoch()).toBe(5);
    for await (const host of loader.hostEpoch(0)) {
      host.indices.forEach((i, k) => {
        // synthetic images are all-white: the index space and the pixels agree
        expect(host.data[k * 4] === 1).toBe(i >= 50 || i === 255);
        if (i >= 50) expect(host.labels[k]).toBe(3);
      });
      expect([...host.indices].filter((i) => i >= 50)).toHaveLength(2);
    }
  });

  it('propagates read errors to the consumer', async () => {
    const broken: ImageDataset = {
      ...labelled(20),
      readImages: () => Promise.reject(new Error('disk on fire')),
      labels: new Int32Array(20),
      name: 'b',
      length: 20,
      imageShape: [2, 2, 1],
      numClasses: 10,
    };
    const loader = new DataLoader(broken, { batchSize: 5 });
    await expect(
      (async () => {
        for await (const b of loader.hostEpoch()) void b;
      })(),
    ).rejects.toThrow(/disk on fire/);
    expect(() => new DataLoader(broken, { batchSize: 5, shuffle: true })).toThrow(/need an rng/);
  });
});
