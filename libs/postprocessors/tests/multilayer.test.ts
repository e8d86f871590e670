import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCompute, tf } from '@oodkit/compute';
import { ConfigError, Rng, createOodkitContainer, registryOf, silentLogger, type FeatureSplit, type Postprocessor } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { buildPostprocessor, type AggregatorName, type PostprocessorReference } from '../src/index.js';
import { finalLayer } from './math-fixtures.js';

/**
 * Multi-layer detectors against fixtures/multilayer_reference.py (numpy/sklearn): mds and knn run per
 * layer and fused by oodeel's aggregators (fitted on the ID val scores), and oodeel's DKNN.
 */
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const ref = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'multilayer-reference.json'), 'utf8')).detectors as {
  W: number[][];
  b: number[];
  train: Record<string, number[][]>;
  train_labels: number[];
  val: Record<string, number[][]>;
  query: Record<string, number[][]>;
  pred: number[];
  expected: Record<string, number[]>;
};
const model = { finalLayer: finalLayer(ref.W, ref.b) };

function split(name: string, rows: Record<string, number[][]>, labels: number[]): FeatureSplit {
  const z = rows.penultimate!;
  const block = rows.block!;
  return {
    name,
    count: z.length,
    dim: z[0]!.length,
    features: Float32Array.from(z.flat()),
    labels: Int32Array.from(labels),
    layers: { block: { dim: block[0]!.length, features: Float32Array.from(block.flat()) } },
  };
}

const train = split('train', ref.train, ref.train_labels);
const val = split(
  'val',
  ref.val,
  ref.val.penultimate!.map((_, i) => i % 3),
);

async function scoreQuery(pp: Postprocessor): Promise<{ conf: number[]; pred: number[] }> {
  await pp.setup(model, { train, val });
  const before = tf.memory().numTensors;
  const features = tf.tensor2d(ref.query.penultimate!);
  const block = tf.tensor2d(ref.query.block!);
  const result = await pp.score({ features, layers: { block } });
  tf.dispose([features, block]);
  expect(tf.memory().numTensors).toBe(before);
  return { conf: Array.from(result.conf), pred: Array.from(result.pred) };
}

function expectClose(actual: number[], expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(tol * Math.max(1, Math.abs(expected[i]!))));
}

const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };
const layers = ['block', 'penultimate'];

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('any layerwise detector over several layers', () => {
  it.each([
    ['mds', {}, 'fisher', 'mds_fisher'],
    ['mds', {}, 'std_normalized', 'mds_std_normalized'],
    ['knn', { K: 5 }, 'mean_normalized', 'knn_mean_normalized'],
  ] as const)('%s %j fused by %s agrees with numpy', async (name, args, aggregator, key) => {
    const pp = await buildPostprocessor(registry, { name, args, layers, aggregator: aggregator as AggregatorName }, ctx);
    expect(pp.featureLayers).toEqual(layers);
    expect(pp.requires).toContain('val');
    const { conf, pred } = await scoreQuery(pp);
    expectClose(conf, ref.expected[key]!, 1e-4);
    expect(pred).toEqual(ref.pred);
    pp.dispose?.();
  });

  it("one layer ['penultimate'] scores exactly as the plain method", async () => {
    const layered = await buildPostprocessor(registry, { name: 'mds', layers: ['penultimate'] }, ctx);
    const plain = await buildPostprocessor(registry, { name: 'mds' }, ctx);
    expect((await scoreQuery(layered)).conf).toEqual((await scoreQuery(plain)).conf);
  });

  it('a hyperparameter change refits the aggregator on the new per-layer scores', async () => {
    const pp = await buildPostprocessor(registry, { name: 'knn', args: { K: 20 }, layers, aggregator: 'mean_normalized' }, ctx);
    await pp.setup(model, { train, val });
    await pp.setHyperparameters({ K: 5 });
    const features = tf.tensor2d(ref.query.penultimate!);
    const block = tf.tensor2d(ref.query.block!);
    const conf = Array.from((await pp.score({ features, layers: { block } })).conf);
    tf.dispose([features, block]);
    expectClose(conf, ref.expected.knn_mean_normalized!, 1e-4);
    pp.dispose?.();
  });

  it('refuses methods that read the final layer, and an aggregator without layers', async () => {
    const bad: PostprocessorReference = { name: 'ebo', layers };
    await expect(buildPostprocessor(registry, bad, ctx)).rejects.toThrow(ConfigError);
    await expect(buildPostprocessor(registry, bad, ctx)).rejects.toThrow(/'ebo' does not run per layer.*knn.*mds/);
    await expect(buildPostprocessor(registry, { name: 'mds', aggregator: 'fisher' }, ctx)).resolves.toBeDefined();
  });
});

describe('dknn (oodeel DKNN)', () => {
  it('two layers, std_normalized fitted on train scores with max(K, 2) neighbours', async () => {
    const pp = await buildPostprocessor(registry, { name: 'dknn', args: { K: 5, layers } }, ctx);
    const { conf, pred } = await scoreQuery(pp);
    expectClose(conf, ref.expected.dknn_std_normalized!, 1e-4);
    expect(pred).toEqual(ref.pred);
    pp.dispose?.();
  });

  it('K = 1 scores the nearest neighbour but fits the aggregator with K = 2 (fisher)', async () => {
    const pp = await buildPostprocessor(registry, { name: 'dknn', args: { K: 1, layers, aggregator: 'fisher' } }, ctx);
    expectClose((await scoreQuery(pp)).conf, ref.expected.dknn_fisher_k1!, 1e-4);
    pp.dispose?.();
  });

  it('on z alone it is knn', async () => {
    const dknn = await buildPostprocessor(registry, { name: 'dknn', args: { K: 7 } }, ctx);
    const knn = await buildPostprocessor(registry, { name: 'knn', args: { K: 7 } }, ctx);
    expectClose((await scoreQuery(dknn)).conf, (await scoreQuery(knn)).conf, 1e-6);
  });
});
