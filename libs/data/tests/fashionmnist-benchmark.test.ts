import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, silentLogger, type ImageDataset } from '@oodkit/core';
import { loadBenchmark } from '../src/benchmark/load.js';
import { subsetOrder } from '../src/datasets/subset.js';
import { DataLoader, disposeBatch } from '../src/loader/data-loader.js';
import type { SubsetDataset } from '../src/datasets/views.js';
import { registry } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };

function histogram(labels: Int32Array): number[] {
  const h = new Array<number>(10).fill(0);
  for (const y of labels) h[y]++;
  return h;
}

describe('embedded fashionmnist benchmark', () => {
  it('ID splits are disjoint stratified windows of one seed-0 order of the 70,000 package images', async () => {
    const b = await loadBenchmark('fashionmnist', registry, ctx);
    expect(b.config.name).toBe('fashionmnist');
    expect([b.id.train.length, b.id.val.length, b.id.test.length]).toEqual([55_000, 5_000, 10_000]);
    // the package has exactly 7,000 images per class, so stratified windows are exactly balanced
    expect(histogram(b.id.test.labels)).toEqual(new Array(10).fill(1000));
    expect(histogram(b.id.val.labels)).toEqual(new Array(10).fill(500));
    expect(histogram(b.id.train.labels)).toEqual(new Array(10).fill(5500));
    const sets = [b.id.train, b.id.val, b.id.test].map((d) => new Set((d as SubsetDataset).indices));
    expect(sets.reduce((n, s) => n + s.size, 0)).toBe(70_000); // the three windows cover the package once
    const fm = await registry.build<ImageDataset>('dataset', { name: 'fashion_mnist' }, ctx);
    const order = subsetOrder(fm.labels, 0, true);
    expect(Array.from((b.id.test as SubsetDataset).indices)).toEqual(Array.from(order.subarray(0, 10_000)));
    expect(Array.from((b.id.train as SubsetDataset).indices)).toEqual(Array.from(order.subarray(15_000)));
    // the splits hold the package's pixels: the first test image equals the package image it indexes
    const i = (b.id.test as SubsetDataset).indices[0];
    expect(Buffer.from(await b.id.test.readImages([0])).equals(Buffer.from(await fm.readImages([i])))).toBe(true);
    expect(b.preprocess.train.map((p) => p.name)).toEqual(['horizontal_flip', 'normalize']);
  });

  it('near-OOD is MNIST t10k, far-OOD the generated families, OOD val disjoint from every test set', async () => {
    const b = await loadBenchmark('fashionmnist', registry, ctx);
    expect(b.ood.near.map((n) => [n.name, n.dataset.length])).toEqual([['mnist', 10_000]]);
    expect(b.ood.far.map((n) => [n.name, n.dataset.length])).toEqual([
      ['gaussian_noise', 2000],
      ['uniform_noise', 2000],
      ['stripes', 2000],
      ['checkerboard', 2000],
      ['perlin_noise', 2000],
    ]);
    for (const set of [b.ood.val, ...b.ood.near, ...b.ood.far]) expect([...new Set(set.dataset.labels)]).toEqual([-1]);
    expect(b.ood.val.dataset.length).toBe(2000);
    // OOD val = 1,000 MNIST *train* digits + 1,000 blobs: no test set reads MNIST train or the blobs family
    const mnistTest = await registry.build<ImageDataset>('dataset', { name: 'mnist', args: { split: 'test' } }, ctx);
    const nearPixels = new Set<string>();
    const all = await mnistTest.readImages(Int32Array.from({ length: mnistTest.length }, (_, k) => k));
    for (let k = 0; k < mnistTest.length; k++) nearPixels.add(Buffer.from(all.subarray(k * 784, (k + 1) * 784)).toString('base64'));
    const val = await b.ood.val.dataset.readImages(Int32Array.from({ length: 1000 }, (_, k) => k));
    let shared = 0;
    for (let k = 0; k < 1000; k++) if (nearPixels.has(Buffer.from(val.subarray(k * 784, (k + 1) * 784)).toString('base64'))) shared++;
    expect(shared).toBe(0);

    const loader = new DataLoader(b.id.val, { batchSize: 500, preprocess: b.preprocess.test });
    const before = tf.memory().numTensors;
    let n = 0;
    for await (const batch of loader.epoch(0)) {
      if (n === 0) {
        const x = batch.x.dataSync() as Float32Array;
        expect(x.reduce((a, v) => Math.min(a, v), Infinity)).toBeCloseTo(-1, 5);
        expect(x.reduce((a, v) => Math.max(a, v), -Infinity)).toBeCloseTo(1, 5);
      }
      n += batch.indices.length;
      disposeBatch(batch);
    }
    expect(n).toBe(5000);
    expect(tf.memory().numTensors).toBe(before);
  });
});
