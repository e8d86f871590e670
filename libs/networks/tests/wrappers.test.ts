import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, UsageError, createOodkitContainer, registryOf, silentLogger, type Classifier } from '@oodkit/core';
import {
  networksModule,
  type BoundaryNetwork,
  type ConfidenceBranchNetwork,
  type FeatureNormNetwork,
  type ProjectionNetwork,
  type RotationPredictionNetwork,
} from '../src/index.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const registry = registryOf(createOodkitContainer([networksModule]));
const ctx = () => ({ logger: silentLogger, rng: Rng.fromSeed(4).derive('network'), config: {} });
const lenet = { name: 'lenet', args: { in_channels: 1 } };
const build = <T extends Classifier>(name: string, args: Record<string, unknown> = {}) =>
  registry.build<T>('network', { name, args: { backbone: lenet, ...args } }, ctx());
const own = (net: Classifier) => [...net.namedVariables().keys()].filter((k) => !k.startsWith('backbone.'));
const linear = (x: tf.Tensor2D, net: Classifier, name: string) =>
  tf.add(tf.matMul(x, net.namedVariables().get(`${name}.weight`)!, false, true), net.namedVariables().get(`${name}.bias`)!) as tf.Tensor2D;
const close = (a: tf.Tensor, b: tf.Tensor, tol = 1e-5) => {
  const x = a.dataSync();
  const y = b.dataSync();
  expect(x.length).toBe(y.length);
  x.forEach((v, i) => expect(Math.abs(v - y[i]!)).toBeLessThan(tol));
};

describe('wrapper networks of the training-coupled methods', () => {
  const x = () => tf.randomNormal([3, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D;

  it('conf_branch_net: class logits of the backbone, confidence = Linear(D, 1)(z)', async () => {
    const net = await build<ConfidenceBranchNetwork>('conf_branch_net');
    expect(own(net)).toEqual(['confidence.weight', 'confidence.bias']);
    const input = x();
    const before = tf.memory().numTensors;
    const { logits, confidence, features } = net.forwardWithConfidence(input);
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.tidy(() => {
      close(logits, net.forward(input));
      close(confidence, linear(features, net, 'confidence'));
      close(net.confidenceOf(features), confidence);
    });
    expect(confidence.shape).toEqual([3, 1]);
    tf.dispose([logits, confidence, features, input]);
    net.dispose();
  });

  it('rot_net: rotation logits = Linear(D, 4)(z)', async () => {
    const net = await build<RotationPredictionNetwork>('rot_net');
    expect(own(net)).toEqual(['rot_fc.weight', 'rot_fc.bias']);
    const input = x();
    tf.tidy(() => {
      const { logits, rotationLogits } = net.forwardWithRotation(input);
      expect(rotationLogits.shape).toEqual([3, 4]);
      close(rotationLogits, linear(net.forwardFeatures(input).features, net, 'rot_fc'));
      close(logits, net.forward(input));
    });
    input.dispose();
    net.dispose();
  });

  it('t2fnorm_net: logits fc(ẑ/τ) (head agrees), inference fc(z/τ) = the final layer (W/τ, b) on z', async () => {
    const net = await build<FeatureNormNetwork>('t2fnorm_net', { tau: 0.2 });
    expect(own(net)).toEqual(['tau']);
    expect(net.tau).toBeCloseTo(0.2, 7);
    const input = x();
    tf.tidy(() => {
      const { logits, features } = net.forwardFeatures(input);
      const unit = tf.div(features, tf.norm(features, 'euclidean', 1, true)) as tf.Tensor2D;
      const { weight, bias } = net.finalLayer();
      close(logits, tf.add(tf.matMul(tf.div(unit, 0.2), tf.mul(weight, 0.2), false, true), bias));
      close(net.head(features), logits);
      close(net.inferenceLogits(features), tf.add(tf.matMul(features, weight, false, true), bias), 1e-4);
    });
    net.setTau(0.5);
    expect(net.tau).toBe(0.5);
    expect(() => net.setTau(0)).toThrow(UsageError);
    input.dispose();
    net.dispose();
  });

  it.each([
    ['mlp', ['head.0.weight', 'head.0.bias', 'head.2.weight', 'head.2.bias']],
    ['linear', ['head.weight', 'head.bias']],
  ] as const)('cider_net (%s head): unit-norm projection of z', async (head, names) => {
    const net = await build<ProjectionNetwork>('cider_net', { head, feat_dim: 16 });
    expect(own(net)).toEqual(names);
    expect(net.embeddingDim).toBe(16);
    const input = x();
    tf.tidy(() => {
      const { features, embedding } = net.forwardProjection(input);
      const projected = head === 'mlp' ? linear(tf.relu(linear(features, net, 'head.0')), net, 'head.2') : linear(features, net, 'head');
      close(embedding, tf.div(projected, tf.norm(projected, 'euclidean', 1, true)));
      close(tf.norm(embedding, 'euclidean', 1), tf.ones([3]));
    });
    input.dispose();
    net.dispose();
  });

  it('npos_net: cider_net plus mlp = Linear(D, feat_dim)·ReLU·Linear(feat_dim, 1) on z', async () => {
    const net = await build<BoundaryNetwork>('npos_net', { feat_dim: 8 });
    expect(own(net)).toEqual([
      'head.0.weight',
      'head.0.bias',
      'head.2.weight',
      'head.2.bias',
      'mlp.0.weight',
      'mlp.0.bias',
      'mlp.2.weight',
      'mlp.2.bias',
    ]);
    const input = x();
    tf.tidy(() => {
      const { features } = net.forwardProjection(input);
      const logits = net.boundaryLogits(features);
      expect(logits.shape).toEqual([3, 1]);
      close(logits, linear(tf.relu(linear(features, net, 'mlp.0')), net, 'mlp.2'));
    });
    expect(() => net.boundaryLogits(tf.zeros([2, 5]) as tf.Tensor2D)).toThrow(/expects features/);
    input.dispose();
    net.dispose();
  });

  it.each(['conf_branch_net', 'rot_net', 't2fnorm_net', 'cider_net', 'npos_net'])('%s refuses itself as its backbone', async (name) => {
    await expect(registry.build('network', { name, args: { backbone: { name, args: { backbone: lenet } } } }, ctx())).rejects.toThrow(
      new RegExp(`already a ${name}`),
    );
  });
});
