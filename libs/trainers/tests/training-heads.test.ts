import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, rot90, tf } from '@oodkit/compute';
import { Rng, UsageError, type Batch, type Trainer } from '@oodkit/core';
import { ConfBranchNet, RotNet, T2FNormNet } from '@oodkit/networks';
import { confBranchLoss, nextLambda } from '../src/index.js';
import { LinearClassifier, buildTrainer, trainerRng } from './helpers.js';

// Values from libs/trainers/tools/training_heads_reference.py (PyTorch, float64, OpenOOD's formulas).
const fx = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'training-heads-reference.json'), 'utf8')) as {
  x: number[];
  y: number[];
  W: number[];
  b: number[];
  u: number[];
  c: number[];
  R: number[];
  r: number[];
  conf_branch: {
    hints: number[];
    lmbda: number;
    total: number;
    confidence_loss: number;
    grad_W: number[];
    grad_u: number[];
    baseline_total: number;
  };
  rotpred: { x_rot: number[]; loss: number; grad_W: number[]; grad_R: number[] };
  t2fnorm: { tau: number; train_logits: number[]; loss: number; grad_W: number[] };
};
const SHAPE = [4, 4, 1] as const;
const N = fx.y.length;

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

function backbone(): LinearClassifier {
  const w = Array.from({ length: 3 }, (_, c) => fx.W.slice(c * 16, (c + 1) * 16));
  return new LinearClassifier(SHAPE, 3, w, fx.b);
}
function assign(net: { namedVariables(): ReadonlyMap<string, tf.Variable> }, values: Record<string, number[]>): void {
  for (const [name, v] of Object.entries(values)) {
    const variable = net.namedVariables().get(name);
    if (!variable) throw new Error(`no variable ${name}`);
    variable.assign(tf.tensor(v, variable.shape));
  }
}
function batch(): Batch {
  return { x: tf.tensor4d(fx.x, [N, ...SHAPE]), y: tf.tensor1d(fx.y, 'int32'), indices: Int32Array.from(fx.y.keys()) };
}
const close = (actual: ArrayLike<number>, expected: number[], tol = 1e-5) => {
  expect(actual.length).toBe(expected.length);
  Array.from(actual).forEach((v, i) => expect(Math.abs(v - expected[i]), `index ${i}: ${v} vs ${expected[i]}`).toBeLessThan(tol));
};

describe('conf_branch (learned confidence) against PyTorch', () => {
  const confNet = () => {
    const net = new ConfBranchNet(backbone(), Rng.fromSeed(1));
    assign(net, { 'confidence.weight': fx.u, 'confidence.bias': fx.c });
    return net;
  };

  it('hinted NLL + λ·(−log c) and its gradients equal OpenOOD’s; no hints = plain NLL', () => {
    const net = confNet();
    const data = batch();
    const hints = tf.tensor2d(fx.conf_branch.hints, [N, 1]);
    const vars = net.namedVariables();
    const { value, grads } = tf.variableGrads(() => {
      const { total, confidenceLoss } = confBranchLoss(net, data, { lmbda: fx.conf_branch.lmbda, eps: 1e-12, hints, training: false });
      expect(confidenceLoss.dataSync()[0]).toBeCloseTo(fx.conf_branch.confidence_loss, 6);
      confidenceLoss.dispose();
      return total;
    }, [vars.get('backbone.fc.weight')!, vars.get('confidence.weight')!]);
    expect(value.dataSync()[0]).toBeCloseTo(fx.conf_branch.total, 6);
    close(grads[vars.get('backbone.fc.weight')!.name]!.dataSync(), fx.conf_branch.grad_W);
    close(grads[vars.get('confidence.weight')!.name]!.dataSync(), fx.conf_branch.grad_u);
    const plain = confBranchLoss(net, data, { lmbda: 0.1, eps: 1e-12, training: false });
    expect(plain.total.dataSync()[0]).toBeCloseTo(fx.conf_branch.baseline_total, 6);
    tf.dispose([value, ...Object.values(grads), hints, data.x, data.y, plain.total, plain.confidenceLoss]);
    net.dispose();
  });

  it('the budget rule: λ shrinks by 1.01 under the budget, grows by 1/0.99 at or over it', () => {
    expect(nextLambda(0.1, 0.3, 0.2)).toBeCloseTo(0.1 / 1.01, 12);
    expect(nextLambda(0.1, 0.3, 0.3)).toBeCloseTo(0.1 / 0.99, 12);
    expect(nextLambda(0.1, 0.3, 0.9)).toBeCloseTo(0.1 / 0.99, 12);
  });

  it('a step draws b ~ Bernoulli(U(0,1)) per sample from its stream, steps on that loss, then updates λ; λ is checkpointed', async () => {
    const net = confNet();
    const trainer = (await buildTrainer('conf_branch', { lr: 0.01 }, 3)) as Trainer & { lambda: number };
    trainer.init(net, { epochs: 1, stepsPerEpoch: 4 });
    const draws = trainerRng(3).derive('draws');
    const hints = Array.from({ length: N }, () => {
      const u = draws.uniform();
      return draws.uniform() < u ? 1 : 0;
    });
    const data = batch();
    const expected = tf.tidy(() => {
      const out = confBranchLoss(net, data, { lmbda: 0.1, eps: 1e-12, hints: tf.tensor2d(hints, [N, 1]), training: true });
      return [out.total.dataSync()[0]!, out.confidenceLoss.dataSync()[0]!];
    });
    const { loss } = await trainer.step(data);
    expect(loss).toBeCloseTo(expected[0]!, 5);
    expect(trainer.lambda).toBeCloseTo(nextLambda(0.1, 0.3, expected[1]!), 10);
    const state = trainer.getState();
    const again = (await buildTrainer('conf_branch', { lr: 0.01 }, 3)) as Trainer & { lambda: number };
    again.init(net, { epochs: 1, stepsPerEpoch: 4 });
    expect(again.lambda).toBe(0.1);
    again.setState(state);
    expect(again.lambda).toBe(trainer.lambda);
    tf.dispose([data.x, data.y]);
    net.dispose();
  });

  it('refuses a network without a confidence branch, and names conf_branch_net', async () => {
    const trainer = await buildTrainer('conf_branch');
    const plain = backbone();
    expect(() => trainer.init(plain, { epochs: 1, stepsPerEpoch: 1 })).toThrow(UsageError);
    expect(() => trainer.init(plain, { epochs: 1, stepsPerEpoch: 1 })).toThrow(/conf_branch_net/);
    expect(trainer.networkWrapper).toBe('conf_branch_net');
    plain.dispose();
  });
});

describe('rotpred (rotation prediction) against PyTorch', () => {
  it('rot90 is torch.rot90(x, k, [2, 3]) on NHWC: a 2×3 → 3×2 hand example and the fixture', () => {
    // one 2×3 image [[1,2,3],[4,5,6]]: rot90 k=1 → [[3,6],[2,5],[1,4]]; k=2 → [[6,5,4],[3,2,1]]; k=3 → [[4,1],[5,2],[6,3]]
    const img = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
    expect(Array.from(rot90(img, 1).dataSync())).toEqual([3, 6, 2, 5, 1, 4]);
    expect(Array.from(rot90(img, 2).dataSync())).toEqual([6, 5, 4, 3, 2, 1]);
    expect(Array.from(rot90(img, 3).dataSync())).toEqual([4, 1, 5, 2, 6, 3]);
    expect(rot90(img, 1).shape).toEqual([1, 3, 2, 1]);
    const x = tf.tensor4d(fx.x, [N, ...SHAPE]);
    const all = tf.concat([0, 1, 2, 3].map((k) => rot90(x, k)));
    close(all.dataSync(), fx.rotpred.x_rot, 1e-6); // float32 copies of the float64 values
    tf.dispose([img, x, all]);
  });

  it('one step’s loss CE(classes of the unrotated) + CE(4 rotations) and its gradients equal OpenOOD’s', async () => {
    const net = new RotNet(backbone(), Rng.fromSeed(1));
    assign(net, { 'rot_fc.weight': fx.R, 'rot_fc.bias': fx.r });
    const trainer = await buildTrainer('rotpred', { lr: 0.1, momentum: 0, weight_decay: 0, nesterov: false, min_lr: 0.1 });
    trainer.init(net, { epochs: 1, stepsPerEpoch: 2 });
    const w0 = Array.from(net.namedVariables().get('backbone.fc.weight')!.dataSync());
    const r0 = Array.from(net.namedVariables().get('rot_fc.weight')!.dataSync());
    const data = batch();
    const { loss } = await trainer.step(data);
    expect(loss).toBeCloseTo(fx.rotpred.loss, 5);
    // plain SGD at lr 0.1: p₁ = p₀ − 0.1·∇
    close(
      net.namedVariables().get('backbone.fc.weight')!.dataSync(),
      w0.map((v, i) => v - 0.1 * fx.rotpred.grad_W[i]!),
    );
    close(
      net.namedVariables().get('rot_fc.weight')!.dataSync(),
      r0.map((v, i) => v - 0.1 * fx.rotpred.grad_R[i]!),
    );
    tf.dispose([data.x, data.y]);
    net.dispose();
  });
});

describe('t2fnorm against PyTorch', () => {
  it('training logits fc(z/‖z‖/τ), the CE step, τ set by the trainer and kept as a buffer; finalLayer = (W/τ, b)', async () => {
    const net = new T2FNormNet(backbone(), Rng.fromSeed(1), 1);
    const trainer = await buildTrainer('t2fnorm', {
      tau: fx.t2fnorm.tau,
      lr: 0.1,
      momentum: 0,
      weight_decay: 0,
      nesterov: false,
      min_lr: 0.1,
    });
    trainer.init(net, { epochs: 1, stepsPerEpoch: 2 });
    expect(net.tau).toBe(fx.t2fnorm.tau);
    expect(net.namedVariables().get('tau')!.dataSync()[0]).toBe(fx.t2fnorm.tau);
    expect(net.trainableVariables()).not.toContain(net.namedVariables().get('tau'));
    const data = batch();
    const logits = net.forward(data.x, true);
    close(logits.dataSync(), fx.t2fnorm.train_logits);
    const { features } = net.forwardFeatures(data.x);
    const headed = net.head(features);
    close(headed.dataSync(), fx.t2fnorm.train_logits);
    const { weight, bias } = net.finalLayer();
    close(
      weight.dataSync(),
      fx.W.map((v) => v / fx.t2fnorm.tau),
    );
    close(bias.dataSync(), fx.b);
    const w0 = Array.from(net.namedVariables().get('backbone.fc.weight')!.dataSync());
    const { loss } = await trainer.step(data);
    expect(loss).toBeCloseTo(fx.t2fnorm.loss, 5);
    close(
      net.namedVariables().get('backbone.fc.weight')!.dataSync(),
      w0.map((v, i) => v - 0.1 * fx.t2fnorm.grad_W[i]!),
    );
    tf.dispose([logits, features, headed, weight, bias, data.x, data.y]);
    net.dispose();
  });
});
