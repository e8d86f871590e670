import { initCompute, tf } from '@oodkit/compute';
import type { Classifier } from '@oodkit/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ODIN_STD, odinArgs, odinDefinition, OdinPostprocessor } from '../src/postprocessors/odin.js';
import { argmax64, expectClose, finalLayer, softmax64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

// A network whose input is one 1×1 pixel with 3 channels: logits = W·x + b.
const W = [
  [1, -2, 0.5],
  [-1, 1, 2],
];
const B = [0.2, -0.1];
function linearNet(): Classifier {
  const w = tf.tensor2d(W);
  const b = tf.tensor1d(B);
  const forward = (x: Tensor4D) => tf.tidy(() => tf.add(tf.matMul(x.reshape([x.shape[0], 3]), w, false, true), b) as Tensor2D);
  return {
    name: 'linear',
    inputShape: [1, 1, 3],
    numClasses: 2,
    featureDim: 3,
    forward,
    forwardFeatures: (x) => ({ logits: forward(x), features: x.reshape([x.shape[0], 3]) as Tensor2D }),
    forwardBlocks: () => {
      throw new Error('unused');
    },
    forwardThreshold: () => {
      throw new Error('unused');
    },
    head: () => {
      throw new Error('unused');
    },
    finalLayer: () => ({ weight: w.clone(), bias: b.clone() }),
    trainableVariables: () => [],
    namedVariables: () => new Map(),
    dispose: () => {
      w.dispose();
      b.dispose();
    },
  };
}
const lin = (x: number[]) => W.map((row, c) => row.reduce((s, v, j) => s + v * x[j], B[c]));

/** ODIN by hand: ∂CE/∂x = Wᵀ(p − e_ŷ)/(T·N) — only its sign matters. */
function odin64(x: number[], t: number, eps: number): { conf: number; pred: number; perturbed: number[] } {
  const l = lin(x);
  const y = argmax64(l);
  const p = softmax64(l.map((v) => v / t));
  const g = [0, 1, 2].map((j) => W.reduce((s, row, c) => s + row[j] * (p[c] - (c === y ? 1 : 0)), 0));
  const perturbed = x.map((v, j) => v - (eps * (g[j] >= 0 ? 1 : -1)) / ODIN_STD[j]);
  const q = softmax64(lin(perturbed).map((v) => v / t));
  return { conf: Math.max(...q), pred: argmax64(q), perturbed };
}

describe('odin', () => {
  const xs = [
    [0.3, -0.2, 0.1],
    [-1, 0.5, 0.25],
  ];
  it('perturbs against the CE gradient sign / std and scores max softmax(ℓ/T)', async () => {
    const net = linearNet();
    const pp = new OdinPostprocessor(odinArgs, odinArgs.parse({ temperature: 2, noise: 0.05 }));
    await pp.setup({ finalLayer: finalLayer(W, B), network: net }, {});
    const inputs = tf.tensor4d(xs.flat(), [2, 1, 1, 3]);
    const features = tf.zeros([2, 3]) as Tensor2D;
    const before = tf.memory().numTensors;
    const r = await pp.score({ features, inputs });
    expect(tf.memory().numTensors).toBe(before);
    const expected = xs.map((x) => odin64(x, 2, 0.05));
    expectClose(
      r.conf,
      expected.map((e) => e.conf),
    );
    expect(Array.from(r.pred)).toEqual(expected.map((e) => e.pred));
    // the perturbation must change the score (guards against a no-op gradient)
    const plain = xs.map((x) => Math.max(...softmax64(lin(x).map((v) => v / 2))));
    expected.forEach((e, i) => expect(Math.abs(e.conf - plain[i])).toBeGreaterThan(1e-3));
    await pp.setHyperparameters({ temperature: 1000, noise: 0.0028 });
    expectClose(
      (await pp.score({ features, inputs })).conf,
      xs.map((x) => odin64(x, 1000, 0.0028).conf),
    );
    [inputs, features].forEach((t) => t.dispose());
    pp.dispose();
    net.dispose();
  });
  it('needs the network and inputs; grid and defaults are OpenOOD', async () => {
    const pp = new OdinPostprocessor(odinArgs, odinArgs.parse({}));
    expect(pp.needsNetwork).toBe(true);
    await expect(pp.setup({ finalLayer: finalLayer(W, B) }, {})).rejects.toThrow(/needs the network/);
    const net = linearNet();
    await pp.setup({ finalLayer: finalLayer(W, B), network: net }, {});
    const features = tf.zeros([1, 3]) as Tensor2D;
    await expect(pp.score({ features })).rejects.toThrow(/inputs/);
    features.dispose();
    net.dispose();
    pp.dispose();
    expect(odinArgs.parse({})).toMatchObject({ temperature: 1000, noise: 0.0014 });
    expect(odinDefinition.grid).toEqual({ temperature: [1, 10, 100, 1000], noise: [0.0014, 0.0028] });
  });
});
