import { initCompute, tf } from '@oodkit/compute';
import type { Classifier } from '@oodkit/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { iodinArgs, iodinDefinition, IodinPostprocessor } from '../src/postprocessors/iodin.js';
import { ODIN_STD } from '../src/postprocessors/odin.js';
import { argmax64, expectClose, finalLayer, softmax64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

// Inputs of 1×2 pixels with 3 channels (6 values, NHWC order); logits = W·vec(x) + b.
const W = [
  [1, -2, 0.5, 0.3, 0.1, -0.4],
  [-1, 1, 2, -0.2, 0.6, 0.9],
  [0.4, 0.2, -1.5, 1.1, -0.3, 0.2],
];
const B = [0.2, -0.1, 0.05];
const lin = (x: number[]) => W.map((row, c) => row.reduce((s, v, j) => s + v * x[j]!, B[c]!));

function pixelPairNet(): Classifier {
  const w = tf.tensor2d(W);
  const b = tf.tensor1d(B);
  const forward = (x: Tensor4D) => tf.tidy(() => tf.add(tf.matMul(x.reshape([x.shape[0], 6]), w, false, true), b) as Tensor2D);
  const unused = () => {
    throw new Error('unused');
  };
  return {
    name: 'pixel_pair',
    inputShape: [1, 2, 3],
    numClasses: 3,
    featureDim: 6,
    forward,
    forwardFeatures: (x) => ({ logits: forward(x), features: x.reshape([x.shape[0], 6]) as Tensor2D }),
    forwardBlocks: unused,
    forwardThreshold: unused,
    head: unused,
    finalLayer: () => ({ weight: w.clone(), bias: b.clone() }),
    trainableVariables: () => [],
    namedVariables: () => new Map(),
    dispose: () => tf.dispose([w, b]),
  };
}

/** IODIN by hand: g ∝ Wᵀ(softmax(ℓ/T) − e_ŷ); only the element with the largest |g| moves, by −ε·sign(g)/std_c. */
function iodin64(x: number[], t: number, eps: number): { conf: number; pred: number; moved: number } {
  const l = lin(x);
  const y = argmax64(l);
  const p = softmax64(l.map((v) => v / t));
  const g = x.map((_, j) => W.reduce((s, row, c) => s + row[j]! * (p[c]! - (c === y ? 1 : 0)), 0));
  let moved = 0;
  for (let j = 1; j < 6; j++) if (Math.abs(g[j]!) > Math.abs(g[moved]!)) moved = j;
  const perturbed = x.map((v, j) => (j === moved ? v - (eps * (g[j]! >= 0 ? 1 : -1)) / ODIN_STD[j % 3]! : v));
  const q = softmax64(lin(perturbed).map((v) => v / t));
  return { conf: Math.max(...q), pred: argmax64(q), moved };
}

describe('iodin', () => {
  const xs = [
    [0.3, -0.2, 0.1, 0.5, -0.4, 0.2],
    [-1, 0.5, 0.25, 0.1, 0.9, -0.3],
    [0.05, 0.05, 0.05, 0.05, 0.05, 0.05],
  ];
  it('perturbs only the largest-|gradient| element per sample and scores max softmax(ℓ/T)', async () => {
    const net = pixelPairNet();
    const pp = new IodinPostprocessor(iodinArgs, iodinArgs.parse({ temperature: 2, noise: 0.2 }));
    await pp.setup({ finalLayer: finalLayer(W, B), network: net }, {});
    const inputs = tf.tensor4d(xs.flat(), [3, 1, 2, 3]);
    const features = tf.zeros([3, 6]) as Tensor2D;
    const before = tf.memory().numTensors;
    const r = await pp.score({ features, inputs });
    expect(tf.memory().numTensors).toBe(before);
    const expected = xs.map((x) => iodin64(x, 2, 0.2));
    // the samples move different elements, across both pixels and several channels
    expect(new Set(expected.map((e) => e.moved)).size).toBeGreaterThan(1);
    expectClose(
      r.conf,
      expected.map((e) => e.conf),
    );
    expect(Array.from(r.pred)).toEqual(expected.map((e) => e.pred));
    // … and it is not ODIN: perturbing every element gives a different score
    const unperturbed = xs.map((x) => Math.max(...softmax64(lin(x).map((v) => v / 2))));
    for (let i = 0; i < xs.length; i++) expect(Math.abs(r.conf[i]! - unperturbed[i]!)).toBeGreaterThan(1e-4);
    tf.dispose([inputs, features]);
    pp.dispose();
    net.dispose();
  });
  it('needs the network and inputs, and has OpenOOD’s grid', async () => {
    expect(iodinDefinition.grid).toEqual({ temperature: [1, 10, 100, 1000], noise: [0.0014, 0.0028] });
    const pp = new IodinPostprocessor(iodinArgs, iodinArgs.parse({}));
    expect(pp.needsNetwork).toBe(true);
    await expect(pp.setup({ finalLayer: finalLayer(W, B) }, {})).rejects.toThrow(/needs the network/);
  });
});
