import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, createOodkitContainer, registryOf, silentLogger, type Classifier, type FeatureSplit, type Postprocessor } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { MdsEnsemblePostprocessor, pooledFeatureLayers } from '../src/index.js';

/** fixtures/mds_ensemble_reference.py: OpenOOD's mds_ensemble scoring re-derived in torch 1.13 on a tiny NHWC net. */
const ref = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'mds-ensemble-reference.json'), 'utf8')) as {
  params: Record<'A' | 'B' | 'M' | 'W', number[][]> & Record<'a' | 'b', number[]>;
  x_train: number[][][][];
  y_train: number[];
  x_test: number[][][][];
  cases: Record<string, { layers: number[]; alpha: number[]; noise: number; conf: number[]; pred: number[] }>;
};
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const LAYERS = ['block1', 'block2', 'penultimate'];

/** The reference's net: block1 = tanh(x·A + a), block2 = tanh(block1·B), z = relu(mean_hw(block2)·M), logits = z·Wᵀ + b. */
function tinyNet(): Classifier {
  const A = tf.tensor2d(ref.params.A);
  const a = tf.tensor1d(ref.params.a);
  const B = tf.tensor2d(ref.params.B);
  const M = tf.tensor2d(ref.params.M);
  const W = tf.tensor2d(ref.params.W);
  const b = tf.tensor1d(ref.params.b);
  const pixel = (x: tf.Tensor4D, m: tf.Tensor2D) => {
    const [n, h, w, c] = x.shape;
    return tf.reshape(tf.matMul(tf.reshape(x, [n * h * w, c]), m), [n, h, w, m.shape[1]]) as tf.Tensor4D;
  };
  const blocks = (x: tf.Tensor4D) => {
    const b1 = tf.tanh(tf.add(pixel(x, A), a)) as tf.Tensor4D;
    const b2 = tf.tanh(pixel(b1, B)) as tf.Tensor4D;
    const z = tf.relu(tf.matMul(tf.mean(b2, [1, 2]) as tf.Tensor2D, M)) as tf.Tensor2D;
    return { b1, b2, z };
  };
  const head = (z: tf.Tensor2D) => tf.add(tf.matMul(z, W, false, true), b) as tf.Tensor2D;
  return {
    name: 'tiny',
    inputShape: [4, 4, 3],
    numClasses: 3,
    featureDim: 4,
    blockNames: ['block1', 'block2'],
    forward: (x) => tf.tidy(() => head(blocks(x).z)),
    forwardFeatures: (x) => tf.tidy(() => ({ logits: head(blocks(x).z), features: blocks(x).z })),
    forwardBlocks: (x) =>
      tf.tidy(() => {
        const { b1, b2, z } = blocks(x);
        return { logits: head(z), features: z, blocks: [b1, b2] };
      }),
    forwardThreshold: (x, t) => tf.tidy(() => head(tf.minimum(blocks(x).z, t))),
    head: (z) => tf.tidy(() => head(z)),
    finalLayer: () => ({ weight: tf.clone(W), bias: tf.clone(b) }),
    trainableVariables: () => [],
    namedVariables: () => new Map(),
    dispose: () => tf.dispose([A, a, B, M, W, b]),
  };
}

let net: Classifier;
let train: FeatureSplit;

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  net = tinyNet();
  // the train split as NetworkSource hands it over: z plus the pooled layers
  const x = tf.tensor4d(ref.x_train);
  const out = pooledFeatureLayers(net, x, ['block1', 'block2']);
  train = {
    name: 'train',
    count: ref.y_train.length,
    dim: 4,
    features: out.features.dataSync() as Float32Array,
    labels: Int32Array.from(ref.y_train),
    layers: {
      block1: { dim: 5, features: out.layers.block1!.dataSync() as Float32Array },
      block2: { dim: 6, features: out.layers.block2!.dataSync() as Float32Array },
    },
  };
  tf.dispose([x, out.logits, out.features, ...Object.values(out.layers)]);
});

async function build(args: Record<string, unknown>): Promise<Postprocessor> {
  return registry.build<Postprocessor>(
    'postprocessor',
    { name: 'mds_ensemble', args },
    { logger: silentLogger, rng: Rng.fromSeed(0), config: {} },
  );
}

function finalLayer() {
  const { weight, bias } = net.finalLayer();
  const layer = { numClasses: 3, featureDim: 4, weight: weight.dataSync() as Float32Array, bias: bias.dataSync() as Float32Array };
  tf.dispose([weight, bias]);
  return layer;
}

describe('mds_ensemble agrees with OpenOOD (torch reference)', () => {
  it.each(Object.keys(ref.cases))('%s', async (key) => {
    const c = ref.cases[key]!;
    const layers = c.layers.map((i) => LAYERS[i]!);
    const args =
      key === 'default'
        ? {} // OpenOOD's config: one 'mean' layer = position 0 of the list, alpha [1], noise 0.0014
        : { layers, feature_type_list: layers.map(() => 'mean'), alpha_list: c.alpha, noise: c.noise };
    const pp = await build(args);
    const model = { finalLayer: finalLayer(), network: net };
    expect((pp as MdsEnsemblePostprocessor).setupLayers(model)).toEqual(layers);
    await pp.setup(model, { train });
    const before = tf.memory().numTensors;
    const inputs = tf.tensor4d(ref.x_test);
    const { logits, features } = net.forwardFeatures(inputs);
    const result = await pp.score({ features, inputs });
    tf.dispose([inputs, features, logits]);
    expect(tf.memory().numTensors).toBe(before);
    Array.from(result.conf).forEach((v, i) => expect(Math.abs(v - c.conf[i]!)).toBeLessThan(2e-3 * Math.max(1, Math.abs(c.conf[i]!))));
    expect(Array.from(result.pred)).toEqual(c.pred);
    pp.dispose?.();
  });

  it('names mismatched list lengths and unknown layers', async () => {
    const model = { finalLayer: finalLayer(), network: net };
    const pp = (await build({ alpha_list: [1, 2] })) as MdsEnsemblePostprocessor;
    expect(() => pp.setupLayers(model)).toThrow(/alpha_list has 2 weight\(s\) for 1 layer/);
    const bad = (await build({ layers: ['layer3'] })) as MdsEnsemblePostprocessor;
    expect(() => bad.setupLayers(model)).toThrow(/no feature layer 'layer3' \(its layers: block1, block2, penultimate\)/);
  });
});
