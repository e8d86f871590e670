import { readFileSync } from 'node:fs';
import { initCompute, tf } from '@oodkit/compute';
import { createOodkitContainer, registryOf, Rng, silentLogger, type FeatureSplit, type Postprocessor } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import type { TempScalingPostprocessor } from '../src/postprocessors/temp_scaling.js';
import { expectClose } from './math-fixtures.js';

/**
 * Agreement with an independent numpy/scipy implementation of OpenOOD's formulas
 * (fixtures/f1_reference.py → fixtures/f1-reference.json): 120 train / 60 val / 40 test features,
 * D = 8, C = 4.
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
const ref = JSON.parse(readFileSync(new URL('./fixtures/f1-reference.json', import.meta.url), 'utf8')) as Reference;
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

async function conf(name: string, args: Record<string, unknown> = {}): Promise<{ pp: Postprocessor; conf: Float64Array }> {
  const pp = await registry.build<Postprocessor>('postprocessor', { name, args }, ctx);
  await pp.setup(model, data);
  const features = tf.tensor2d(ref.test, [ref.test.length / ref.D, ref.D]);
  const r = await pp.score({ features });
  features.dispose();
  return { pp, conf: r.conf };
}

describe('agreement with the numpy/scipy reference', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['msp', 'msp', {}],
    ['mls', 'mls', {}],
    ['ebo', 'ebo', {}],
    ['gen_g0.5_M2', 'gen', { gamma: 0.5, M: 2 }],
    ['klm', 'klm', {}],
    ['mds', 'mds', {}],
    ['rmds', 'rmds', {}],
    ['react_p85', 'react', { percentile: 85 }],
    ['react_p90', 'react', { percentile: 90 }],
    ['ash_p65', 'ash', { percentile: 65 }],
    ['ash_p90', 'ash', { percentile: 90 }],
    ['scale_p65', 'scale', { percentile: 65 }],
    ['scale_p90', 'scale', { percentile: 90 }],
    ['dice_p50', 'dice', { p: 50 }],
    ['dice_p90', 'dice', { p: 90 }],
    ['temp_scaling_optimum', 'temp_scaling', { fit: 'optimum' }],
  ];
  it.each(cases)('%s', async (key, name, args) => {
    const { pp, conf: c } = await conf(name, args);
    expectClose(c, ref.expected[key], 2e-5);
    if (name === 'temp_scaling') expect((pp as TempScalingPostprocessor).temperature).toBeCloseTo(ref.expected['temp_scaling_T'][0], 4);
    pp.dispose?.();
  });
});
