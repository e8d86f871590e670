import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, UsageError, createOodkitContainer, registryOf, silentLogger, type Classifier, type Postprocessor } from '@oodkit/core';
import { ConfBranchNet, RotNet, T2FNormNet } from '@oodkit/networks';
import { postprocessorsModule } from '@oodkit/postprocessors';

// Scores of OpenOOD's ConfBranch/RotPred/T2FNorm postprocessors, from libs/trainers/tools/training_heads_reference.py.
const fx = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'trainers', 'tests', 'fixtures', 'training-heads-reference.json'), 'utf8'),
) as {
  x: number[];
  y: number[];
  W: number[];
  b: number[];
  u: number[];
  c: number[];
  R: number[];
  r: number[];
  conf_branch: { score_conf: number[]; score_pred: number[] };
  rotpred: { score: number[]; pred: number[] };
  t2fnorm: { tau: number; conf: number[]; pred: number[] };
};
const N = fx.y.length;
const registry = registryOf(createOodkitContainer([postprocessorsModule]));

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/** z = flattened 4×4×1 image, logits = z·Wᵀ + b. */
function linearBackbone(): Classifier {
  const weight = tf.variable(tf.tensor2d(fx.W, [3, 16]));
  const bias = tf.variable(tf.tensor1d(fx.b));
  const z = (x: tf.Tensor4D) => tf.reshape(x, [x.shape[0], 16]) as tf.Tensor2D;
  const head = (f: tf.Tensor2D) => tf.tidy(() => tf.add(tf.matMul(f, weight, false, true), bias) as tf.Tensor2D);
  return {
    name: 'linear',
    inputShape: [4, 4, 1],
    numClasses: 3,
    featureDim: 16,
    forward: (x) => head(z(x)),
    forwardFeatures: (x) => ({ logits: head(z(x)), features: z(x) }),
    forwardBlocks: (x) => ({ logits: head(z(x)), features: z(x), blocks: [] }),
    forwardThreshold: (x, t) => head(tf.minimum(z(x), t)),
    head,
    finalLayer: () => ({ weight: tf.clone(weight) as tf.Tensor2D, bias: tf.clone(bias) as tf.Tensor1D }),
    trainableVariables: () => [weight, bias],
    namedVariables: () =>
      new Map<string, tf.Variable>([
        ['fc.weight', weight],
        ['fc.bias', bias],
      ]),
    dispose: () => tf.dispose([weight, bias]),
  };
}

function assign(net: Classifier, values: Record<string, number[]>): void {
  for (const [name, v] of Object.entries(values)) {
    const variable = net.namedVariables().get(name)!;
    variable.assign(tf.tensor(v, variable.shape));
  }
}

async function scoreWith(name: string, network: Classifier): Promise<{ pred: number[]; conf: number[] }> {
  const pp = await registry.build<Postprocessor>('postprocessor', name, { logger: silentLogger, rng: Rng.fromSeed(0), config: {} });
  expect(pp.needsNetwork).toBe(true);
  const { weight, bias } = network.finalLayer();
  const finalLayer = { numClasses: 3, featureDim: 16, weight: weight.dataSync() as Float32Array, bias: bias.dataSync() as Float32Array };
  tf.dispose([weight, bias]);
  await pp.setup({ finalLayer, network }, {});
  const x = tf.tensor4d(fx.x, [N, 4, 4, 1]);
  const features = tf.tidy(() => network.forwardFeatures(x, false).features);
  const before = tf.memory().numTensors;
  const result = await pp.score({ features, inputs: x });
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, features]);
  pp.dispose?.();
  return { pred: Array.from(result.pred), conf: Array.from(result.conf) };
}

const close = (actual: number[], expected: number[], tol = 1e-5) =>
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]!), `index ${i}: ${v} vs ${expected[i]}`).toBeLessThan(tol));

describe('training-coupled scores on their wrapper networks, against OpenOOD', () => {
  it('conf_branch: sigmoid of the confidence branch, argmax of the class logits', async () => {
    const net = new ConfBranchNet(linearBackbone(), Rng.fromSeed(1));
    assign(net, { 'confidence.weight': fx.u, 'confidence.bias': fx.c });
    const { pred, conf } = await scoreWith('conf_branch', net);
    close(conf, fx.conf_branch.score_conf);
    expect(pred).toEqual(fx.conf_branch.score_pred);
    net.dispose();
  });

  it('rotpred: KL(uniform‖p) − mean over rotations of KL(onehot(r)‖p_rot), in bits', async () => {
    const net = new RotNet(linearBackbone(), Rng.fromSeed(1));
    assign(net, { 'rot_fc.weight': fx.R, 'rot_fc.bias': fx.r });
    const { pred, conf } = await scoreWith('rotpred', net);
    close(conf, fx.rotpred.score, 1e-4);
    expect(pred).toEqual(fx.rotpred.pred);
    net.dispose();
  });

  it('t2fnorm: max softmax of fc(z/τ)', async () => {
    const net = new T2FNormNet(linearBackbone(), Rng.fromSeed(1), fx.t2fnorm.tau);
    const { pred, conf } = await scoreWith('t2fnorm', net);
    close(conf, fx.t2fnorm.conf);
    expect(pred).toEqual(fx.t2fnorm.pred);
    net.dispose();
  });

  it.each(['conf_branch', 'rotpred', 't2fnorm'])('%s refuses a network without its head, naming the wrapper', async (name) => {
    const plain = linearBackbone();
    const pp = await registry.build<Postprocessor>('postprocessor', name, { logger: silentLogger, rng: Rng.fromSeed(0), config: {} });
    const finalLayer = { numClasses: 3, featureDim: 16, weight: new Float32Array(48), bias: new Float32Array(3) };
    await expect(pp.setup({ finalLayer, network: plain }, {})).rejects.toThrow(UsageError);
    await expect(pp.setup({ finalLayer }, {})).rejects.toThrow(/needs the network/);
    plain.dispose();
  });
});
