import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, silentLogger, type Classifier } from '@oodkit/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { benchmarkStd, godinDefinition, godinPerturb, GodinPostprocessor, godinArgs } from '../src/postprocessors/godin.js';

// Values from libs/trainers/tools/godin_reference.py (PyTorch, float64): OpenOOD's GodinPostprocessor
// steps on a tiny decomposed network, z = relu(flatten(x)·Aᵀ + a), h = cosine(z, W), g = sigmoid(z·u + c).
const fx = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'godin-reference.json'), 'utf8')) as {
  shape: [number, number, number, number];
  x: number[];
  A: number[];
  a: number[];
  Wh: number[];
  u: number[];
  c: number[];
  num_classes: number;
  feature_dim: number;
  std: number[];
  noise: number;
  perturbed: number[];
  pred: number[];
  conf_softmax: number[];
  conf_max: number[];
  conf_g: number[];
  conf_softmax_unperturbed: number[];
};

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

function decomposedNet() {
  const [, h, w, ch] = fx.shape;
  const A = tf.tensor2d(fx.A, [fx.feature_dim, h * w * ch]);
  const a = tf.tensor1d(fx.a);
  const Wh = tf.tensor2d(fx.Wh, [fx.num_classes, fx.feature_dim]);
  const u = tf.tensor2d(fx.u, [1, fx.feature_dim]);
  const c = tf.tensor1d(fx.c);
  // godin_net's row norm: √max(Σm², 1e-30) has PyTorch's zero gradient at m = 0 (sample 3's z is all zeros)
  const norm = (m: tf.Tensor2D) => tf.div(m, tf.add(tf.sqrt(tf.maximum(tf.sum(tf.square(m), 1, true), 1e-30)), 1e-4));
  const z = (x: Tensor4D) => tf.relu(tf.add(tf.matMul(tf.reshape(x, [x.shape[0], -1]), A, false, true), a)) as Tensor2D;
  const forwardDecomposed = (x: Tensor4D) =>
    tf.tidy(() => {
      const f = z(x);
      return {
        numerators: tf.matMul(norm(f), norm(Wh), false, true) as Tensor2D,
        denominators: tf.sigmoid(tf.add(tf.matMul(f, u, false, true), c)) as Tensor2D,
      };
    });
  const unused = () => {
    throw new Error('unused');
  };
  const net: Classifier & { forwardDecomposed: typeof forwardDecomposed } = {
    name: 'tiny_godin',
    inputShape: [h, w, ch],
    numClasses: fx.num_classes,
    featureDim: fx.feature_dim,
    forwardDecomposed,
    forward: (x) =>
      tf.tidy(() => {
        const d = forwardDecomposed(x);
        return tf.div(d.numerators, d.denominators) as Tensor2D;
      }),
    forwardFeatures: (x) => tf.tidy(() => ({ logits: net.forward(x), features: z(x) })),
    forwardBlocks: unused,
    forwardThreshold: unused,
    head: unused,
    finalLayer: () => ({ weight: norm(Wh) as Tensor2D, bias: tf.zeros([fx.num_classes]) as tf.Tensor1D }),
    trainableVariables: () => [],
    namedVariables: () => new Map(),
    dispose: () => tf.dispose([A, a, Wh, u, c]),
  };
  return net;
}

async function scoreWith(args: Partial<Record<keyof typeof godinArgs.shape, unknown>>) {
  const net = decomposedNet();
  const pp = new GodinPostprocessor(godinArgs.parse({ std: fx.std, noise_magnitude: fx.noise, ...args }), [0.5]);
  const finalLayer = {
    numClasses: fx.num_classes,
    featureDim: fx.feature_dim,
    weight: new Float32Array(fx.num_classes * fx.feature_dim),
    bias: new Float32Array(fx.num_classes),
  };
  await pp.setup({ finalLayer, network: net }, {});
  const inputs = tf.tensor4d(fx.x, fx.shape);
  const features = tf.zeros([fx.shape[0], fx.feature_dim]) as Tensor2D;
  const before = tf.memory().numTensors;
  const result = await pp.score({ inputs, features });
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([inputs, features]);
  pp.dispose();
  net.dispose();
  return result;
}

const expectNear = (actual: ArrayLike<number>, expected: number[], tol = 1e-5) => {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i]), `index ${i}`).toBeLessThan(tol);
};

describe('godin postprocessor against PyTorch', () => {
  it('perturbs x by +ε·sign(∂ Σ max h / ∂x) / std_c on the channel axis (a zero gradient counts as +1)', () => {
    const net = decomposedNet();
    const x = tf.tensor4d(fx.x, fx.shape);
    const perturbed = godinPerturb(net, x, fx.noise, fx.std);
    expectNear(perturbed.dataSync(), fx.perturbed);
    // every pixel moved by exactly ε/std of its channel
    const diff = Array.from(tf.sub(perturbed, x).dataSync());
    diff.forEach((d, i) => expect(Math.abs(Math.abs(d) - fx.noise / fx.std[i % 2])).toBeLessThan(1e-6));
    // sample 3's feature is all zeros, so its gradient is exactly 0 and torch.ge makes every step +ε/std
    expect(diff.slice(54, 72).every((d) => d > 0)).toBe(true);
    tf.dispose([x, perturbed]);
    net.dispose();
  });

  it('conf = max softmax h(x̃) (OpenOOD), max h(x̃) (the paper), or g(x̃); pred = argmax h(x̃)', async () => {
    const soft = await scoreWith({});
    expect(Array.from(soft.pred)).toEqual(fx.pred);
    expectNear(soft.conf, fx.conf_softmax);
    expectNear((await scoreWith({ h_score: 'max' })).conf, fx.conf_max);
    const g = await scoreWith({ score_func: 'g' });
    expectNear(g.conf, fx.conf_g);
    expect(Array.from(g.pred)).toEqual(fx.pred);
    // ε = 0 is plain max softmax of h
    expectNear((await scoreWith({ noise_magnitude: 0 })).conf, fx.conf_softmax_unperturbed);
  });

  it('refuses networks without the decomposition and batches without inputs; std comes from an inline benchmark', async () => {
    const pp = new GodinPostprocessor(godinArgs.parse({}), [0.5]);
    const finalLayer = { numClasses: 2, featureDim: 2, weight: new Float32Array(4), bias: new Float32Array(2) };
    await expect(pp.setup({ finalLayer }, {})).rejects.toThrow(/needs the network/);
    const plain = { ...decomposedNet(), forwardDecomposed: undefined } as unknown as Classifier;
    await expect(pp.setup({ finalLayer, network: plain }, {})).rejects.toThrow(/godin_net/);
    expect(benchmarkStd({ benchmark: { normalization: { std: [0.2, 0.3, 0.4] } } })).toEqual([0.2, 0.3, 0.4]);
    expect(benchmarkStd({ benchmark: 'mnist' })).toEqual([0.5]);
    const built = await godinDefinition.create(godinDefinition.args.parse({}), {
      registry: undefined as never,
      logger: silentLogger,
      rng: Rng.fromSeed(0),
      config: {},
    });
    expect([built.needsNetwork, built.hyperparameters().noise_magnitude, built.hyperparameters().score_func]).toEqual([true, 0.0025, 'h']);
  });
});
