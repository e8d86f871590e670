import { readdir, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, silentLogger } from '@oodkit/core';
import { builtinBenchmarkDir, loadBenchmark, resolveBenchmarkValue } from '../src/benchmark/load.js';
import { validateBenchmark } from '../src/benchmark/schema.js';
import { benchmarkConfigSection } from '../src/benchmark/section.js';
import { DataLoader, disposeBatch } from '../src/loader/data-loader.js';
import type { SubsetDataset } from '../src/datasets/views.js';
import { registry, withTempDir } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };

/** A parsed YAML tree edited freely in tests (deliberately untyped to build invalid configs). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Mutable = Record<string, any>;

describe('benchmarks', () => {
  it('every shipped benchmark file validates against the registry', async () => {
    const files = (await readdir(builtinBenchmarkDir())).filter((f) => f.endsWith('.yml')).sort();
    // cifar*_sio.yml are whole run configs (the SIO paper's protocol) whose `benchmark:` is a full declaration
    expect(files).toEqual([
      'cifar10.yml',
      'cifar100.yml',
      'cifar100_sio.yml',
      'cifar10_sio.yml',
      'fashionmnist.yml',
      'imagenet200.yml',
      'mnist.yml',
    ]);
    for (const file of files) {
      const value = await resolveBenchmarkValue(join(builtinBenchmarkDir(), file));
      expect(validateBenchmark(value, registry), file).toEqual([]);
    }
  });

  it('reports every problem at once with paths and suggestions', async () => {
    const value = structuredClone((await resolveBenchmarkValue('mnist')) as Mutable);
    value.id.test = { name: 'minst', args: { split: 'test' } };
    value.id.val.args.of = { name: 'mnist', args: { splt: 'train' } };
    value.ood.far[1].name = 'gaussian_noise';
    value.preprocessor.train[0] = { name: 'horizontal_flip', args: { p: 2 } };
    const issues = validateBenchmark(value, registry);
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath['benchmark.id.test.name']).toMatch(/unknown dataset 'minst' \(did you mean 'mnist'\?\)/);
    expect(byPath['benchmark.id.val.args.of.args.splt']).toMatch(/unknown key 'splt' \(did you mean 'split'\?\)/);
    expect(byPath['benchmark.ood.far.1.name']).toMatch(/'gaussian_noise' is already used by ood\.far\.0/);
    expect(Object.keys(byPath)).toContain('benchmark.preprocessor.train.0.args.p');
    expect(benchmarkConfigSection.validate('mnist', { registry, config: {} })).toEqual([]);
    expect(benchmarkConfigSection.validate({ name: 'x' }, { registry, config: {} }).length).toBeGreaterThan(0);
    await withTempDir(async (dir) => {
      const file = join(dir, 'b.yml');
      await writeFile(file, stringify({ benchmark: value }));
      const fromFile = benchmarkConfigSection.validate(file, { registry, config: {} });
      expect(fromFile.find((i) => i.path === 'benchmark.id.test.name')?.message).toMatch(/unknown dataset 'minst'.*\(in .*b\.yml\)/);
      expect(benchmarkConfigSection.validate(join(dir, 'none.yml'), { registry, config: {} })[0].message).toMatch(
        /no benchmark file .*none\.yml \(shipped benchmarks: cifar10, cifar100, cifar100_sio, cifar10_sio, fashionmnist, imagenet200, mnist\)/,
      );
    });
    await expect(resolveBenchmarkValue('nope')).rejects.toThrow(/no benchmark file .*nope\.yml/);
  });

  it('the data library owns the benchmark, preprocessor, data_dir and cache_dir config keys', async () => {
    const { dataSections } = await import('../src/module.js');
    expect(dataSections.map((s) => s.key)).toEqual(['benchmark', 'preprocessor', 'data_dir', 'cache_dir']);
    const cache = dataSections.find((s) => s.key === 'cache_dir')!;
    expect(cache.validate('/tmp/c', { registry, config: {} })).toEqual([]);
    expect(cache.validate(3, { registry, config: {} })[0].path).toBe('cache_dir');
  });

  it('the embedded mnist benchmark loads offline with disjoint splits and yields batches', async () => {
    const b = await loadBenchmark('mnist', registry, ctx);
    expect([b.id.train.length, b.id.val.length, b.id.test.length]).toEqual([55_000, 5_000, 10_000]);
    const train = new Set((b.id.train as SubsetDataset).indices);
    expect((b.id.val as SubsetDataset).indices.every((i) => !train.has(i))).toBe(true);
    // stratified: every digit in proportion to its frequency in MNIST train (5,421 to 6,742 of 60,000)
    const hist = new Array(10).fill(0);
    for (const y of b.id.val.labels) hist[y]++;
    expect(hist.reduce((a, c) => a + c, 0)).toBe(5000);
    expect(Math.min(...hist)).toBeGreaterThanOrEqual(Math.floor((5421 * 5000) / 60000));
    expect(Math.max(...hist)).toBeLessThanOrEqual(Math.ceil((6742 * 5000) / 60000));
    expect(b.ood.near.map((n) => [n.name, n.dataset.length])).toEqual([['fashionmnist', 10_000]]);
    expect(b.ood.far.map((n) => n.name)).toEqual(['gaussian_noise', 'uniform_noise', 'stripes', 'checkerboard', 'perlin_noise']);
    expect(b.ood.val.dataset.length).toBe(2000);
    expect([...new Set(b.ood.near[0].dataset.labels)]).toEqual([-1]);
    expect([...new Set(b.ood.val.dataset.labels)]).toEqual([-1]);
    // OOD val is disjoint from the near test set: both are windows of one seed-0 order of fashion_mnist
    const fm = await registry.build<import('@oodkit/core').ImageDataset>('dataset', { name: 'fashion_mnist' }, ctx);
    const { subsetOrder } = await import('../src/datasets/subset.js');
    const order = subsetOrder(fm.labels, 0, true);
    const nearIdx = new Set(order.subarray(1000, 11000));
    expect([...order.subarray(0, 1000)].some((i) => nearIdx.has(i))).toBe(false);
    expect(b.preprocess.train.map((p) => p.name)).toEqual(['random_crop', 'normalize']);

    const loader = new DataLoader(b.id.val, { batchSize: 256, preprocess: b.preprocess.test });
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

  it('rejects a dataset whose shape does not match the benchmark', async () => {
    const value = structuredClone((await resolveBenchmarkValue('mnist')) as Mutable);
    value.ood.far[0].dataset.args.shape = [32, 32, 3];
    await expect(loadBenchmark(value, registry, ctx)).rejects.toThrow(
      /benchmark\.ood\.far\.0\.dataset: 'gaussian_noise' has images of shape \[32, 32, 3\] but benchmark 'mnist' declares image_shape \[28, 28, 1\]/,
    );
  });
});
