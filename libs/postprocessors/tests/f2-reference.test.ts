import { readFileSync } from 'node:fs';
import { initCompute, tf } from '@oodkit/compute';
import { createOodkitContainer, registryOf, Rng, silentLogger, type FeatureSplit, type Postprocessor, type ScoreResult } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { expectClose } from './math-fixtures.js';

/**
 * Agreement with an independent numpy/scipy/sklearn implementation of OpenOOD v1.5's formulas
 * (fixtures/f2_reference.py → fixtures/f2-reference.json): 160 train / 60 val / 40 test, D = 8, C = 4.
 */
interface Reference {
  C: number;
  D: number;
  weight: number[];
  bias: number[];
  train: number[];
  train_labels: number[];
  val: number[];
  val_labels: number[];
  test: number[];
  expected: Record<string, number[]>;
}
const ref = JSON.parse(readFileSync(new URL('./fixtures/f2-reference.json', import.meta.url), 'utf8')) as Reference;
const split = (name: string, f: number[], labels: number[]): FeatureSplit => ({
  name,
  count: labels.length,
  dim: ref.D,
  features: Float32Array.from(f),
  labels: Int32Array.from(labels),
});
const model = { finalLayer: { numClasses: ref.C, featureDim: ref.D, weight: Float32Array.from(ref.weight), bias: Float32Array.from(ref.bias) } };
const data = { train: split('train', ref.train, ref.train_labels), val: split('val', ref.val, ref.val_labels) };
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

async function score(name: string, args: Record<string, unknown>): Promise<ScoreResult> {
  const pp = await registry.build<Postprocessor>('postprocessor', { name, args }, ctx);
  await pp.setup(model, data);
  const features = tf.tensor2d(ref.test, [ref.test.length / ref.D, ref.D]);
  const r = await pp.score({ features });
  features.dispose();
  pp.dispose?.();
  return r;
}

describe('F2 agreement with the numpy/scipy/sklearn reference', () => {
  const cases: [string, string, Record<string, unknown>, number][] = [
    // energy − α·residual cancels (terms ~5, result ~0.7): float32 rounding of the terms shows at ~3e-5.
    ['vim_dim3', 'vim', { dim: 3 }, 5e-5],
    ['vim_dim6', 'vim', { dim: 6 }, 5e-5],
    ['residual_dim3', 'residual', { dim: 3 }, 2e-5],
    ['residual_dim6', 'residual', { dim: 6 }, 2e-5],
    ['knn_K1', 'knn', { K: 1 }, 2e-5],
    ['knn_K10', 'knn', { K: 10 }, 2e-5],
    ['knn_K50', 'knn', { K: 50 }, 2e-5],
    ['she', 'she', {}, 2e-5],
    ['openmax', 'openmax', {}, 2e-5],
    ['relation_pow1', 'relation', { pow: 1 }, 2e-5],
    ['relation_pow2', 'relation', { pow: 2 }, 2e-5],
    ['nnguide_K10', 'nnguide', { K: 10, alpha: 1 }, 2e-5],
    ['fdbd_dist', 'fdbd', { distance_as_normalizer: true }, 2e-5],
    ['fdbd_norm', 'fdbd', { distance_as_normalizer: false }, 2e-5],
    ['nci_a0.001', 'nci', { alpha: 0.001 }, 2e-5],
    ['vra', 'vra', {}, 2e-5],
  ];
  it.each(cases)('%s', async (key, name, args, tol) => {
    const r = await score(name, args);
    expectClose(r.conf, ref.expected[key], tol);
    expect(Array.from(r.pred)).toEqual(ref.expected[name === 'openmax' ? 'openmax_pred' : 'pred']);
  });
});
