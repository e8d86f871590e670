import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, UsageError, type Trainer } from '@oodkit/core';
import { CiderNet, NposNet } from '@oodkit/networks';
import {
  bceWithLogits,
  compactnessLoss,
  dispersionLoss,
  emaPrototypes,
  hypersphereLearningRate,
  normalizeRows,
  synthesizeOutliers,
  type HypersphereOptimizerArgs,
} from '../src/index.js';
import { B0, C, LinearClassifier, SHAPE, W0, X, Y, buildTrainer, makeBatch } from './helpers.js';

// Values from libs/trainers/tools/hypersphere_reference.py (PyTorch float64, OpenOOD's CompLoss/DisLoss/generate_outliers).
const fx = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'hypersphere-reference.json'), 'utf8')) as {
  losses: {
    C: number;
    E: number;
    temp: number;
    proto_m: number;
    w: number;
    features: number[];
    raw: number[];
    labels: number[];
    prototypes0: number[];
    updated: number[];
    dispersion: number;
    compactness: number;
    total: number;
    grad_raw: number[];
  };
  synthesis: {
    S: number;
    D: number;
    L: number;
    K: number;
    select: number;
    pick: number;
    cov: number;
    id_points: number;
    id: number[];
    gaussian: number[];
    picks: number[];
    points: number[];
  };
  bce: { logits: number[]; targets: number[]; loss: number };
};

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const close = (actual: ArrayLike<number>, expected: number[], tol = 1e-5) => {
  expect(actual.length).toBe(expected.length);
  Array.from(actual).forEach((v, i) => expect(Math.abs(v - expected[i]!), `index ${i}: ${v} vs ${expected[i]}`).toBeLessThan(tol));
};

describe('hypersphere losses (CIDER, NPOS) against PyTorch', () => {
  const L = fx.losses;
  it('per-sample EMA prototypes, dispersion, compactness and the gradient through the EMA equal OpenOOD’s', () => {
    const labels = Int32Array.from(L.labels);
    const p0 = tf.tensor2d(L.prototypes0, [L.C, L.E]);
    const raw = tf.tensor2d(L.raw, [L.labels.length, L.E]);
    const y = tf.tensor1d(L.labels, 'int32');
    const before = tf.memory().numTensors;
    const parts = tf.tidy(() => {
      const features = normalizeRows(raw);
      const updated = emaPrototypes(p0, features, labels, L.proto_m);
      close(updated.dataSync(), L.updated);
      return [dispersionLoss(updated, L.temp).dataSync()[0]!, compactnessLoss(features, tf.clone(updated), y, L.temp).dataSync()[0]!];
    });
    expect(parts[0]).toBeCloseTo(L.dispersion, 5);
    expect(parts[1]).toBeCloseTo(L.compactness, 5);
    const total = (r: tf.Tensor) => {
      const features = normalizeRows(r as tf.Tensor2D);
      const updated = emaPrototypes(p0, features, labels, L.proto_m);
      const detached = tf.tensor2d(updated.dataSync(), updated.shape as [number, number]);
      return tf.add(tf.mul(compactnessLoss(features, detached, y, L.temp), L.w), dispersionLoss(updated, L.temp)) as tf.Scalar;
    };
    const { value, grad } = tf.valueAndGrad(total)(raw);
    expect(value.dataSync()[0]).toBeCloseTo(L.total, 5);
    // the dispersion part of the gradient flows through the EMA: without it the gradient would differ
    close(grad.dataSync(), L.grad_raw, 2e-4);
    tf.dispose([value, grad]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([p0, raw, y]);
  });

  it('dispersion is lower for spread prototypes than for clustered ones; needs two classes', () => {
    const spread = tf.tensor2d([1, 0, -1, 0], [2, 2]);
    const clustered = tf.tensor2d([1, 0, 0.8, 0.6], [2, 2]);
    expect(dispersionLoss(spread, 0.1).dataSync()[0]).toBeCloseTo(-10, 5); // log(exp(−1/0.1)) = −10
    expect(dispersionLoss(clustered, 0.1).dataSync()[0]).toBeCloseTo(8, 5); // 0.8/0.1
    expect(() => dispersionLoss(tf.tensor2d([1, 0], [1, 2]), 0.1)).toThrow(UsageError);
    tf.dispose([spread, clustered]);
  });

  it('BCEWithLogits equals PyTorch', () => {
    const loss = bceWithLogits(tf.tensor1d(fx.bce.logits), tf.tensor1d(fx.bce.targets));
    expect(loss.dataSync()[0]).toBeCloseTo(fx.bce.loss, 6);
  });

  it('NPOS boundary synthesis picks the same points as OpenOOD’s generate_outliers (with its [L, pick] view)', () => {
    const S = fx.synthesis;
    const out = tf.tidy(() =>
      synthesizeOutliers(tf.tensor2d(S.id, [S.S, S.D]), {
        K: S.K,
        select: S.select,
        pickNums: S.pick,
        covMat: S.cov,
        idPointsNum: S.id_points,
        gaussian: tf.tensor2d(S.gaussian, [S.L, S.D]),
        picks: S.picks,
      }),
    );
    expect(out.shape).toEqual([S.id_points * S.pick, S.D]);
    close(out.dataSync(), S.points);
    out.dispose();
  });

  it('the schedule: warm-up from 0.001 (epoch 0 held there), OpenOOD’s ramp to the cosine at warm_epochs, then per-epoch cosine', () => {
    const args = {
      lr: 0.5,
      warm: true,
      warm_epochs: 10,
      cosine: true,
      lr_decay_rate: 0.1,
      lr_decay_epochs: [50, 75, 90],
    } as HypersphereOptimizerArgs;
    const plan = { epochs: 100, stepsPerEpoch: 10 };
    const etaMin = 0.5e-3;
    const cos = (e: number) => etaMin + ((0.5 - etaMin) * (1 + Math.cos((Math.PI * e) / 100))) / 2;
    expect(hypersphereLearningRate(0, plan, args)).toBeCloseTo(0.001, 12);
    expect(hypersphereLearningRate(9, plan, args)).toBeCloseTo(0.001, 12);
    expect(hypersphereLearningRate(10, plan, args)).toBeCloseTo(0.001 + (1 / 100) * (cos(10) - 0.001), 12);
    expect(hypersphereLearningRate(109, plan, args)).toBeCloseTo(cos(10), 12);
    expect(hypersphereLearningRate(115, plan, args)).toBeCloseTo(cos(11), 12);
    const stepped = { ...args, warm: false, cosine: false };
    expect(hypersphereLearningRate(505, plan, stepped)).toBeCloseTo(0.5, 12);
    expect(hypersphereLearningRate(515, plan, stepped)).toBeCloseTo(0.05, 12);
    expect(hypersphereLearningRate(915, plan, stepped)).toBeCloseTo(0.5e-3, 12);
  });
});

const backbone = () => new LinearClassifier(SHAPE, C, W0, B0);

describe('cider trainer', () => {
  it('first step: prototypes = normalised class means of the batch, then EMA; loss = w·comp + dis; prototypes checkpointed', async () => {
    const net = new CiderNet(backbone(), Rng.fromSeed(2), { feat_dim: 4, head: 'mlp' });
    const trainer = (await buildTrainer('cider', { proto_m: 0.9, w: 2 })) as Trainer & { prototypes?: Float32Array };
    trainer.init(net, { epochs: 2, stepsPerEpoch: 3 });
    const batch = makeBatch(X, Y, SHAPE);
    const expected = tf.tidy(() => {
      const { embedding } = net.forwardProjection(batch.x, true);
      const e = embedding.arraySync() as number[][];
      const means = [0, 1, 2].map((c) => {
        const rows = e.filter((_, j) => Y[j] === c);
        const m = rows[0]!.map((_, d) => rows.reduce((s, r) => s + r[d]!, 0));
        const norm = Math.hypot(...m);
        return m.map((v) => v / norm);
      });
      const updated = emaPrototypes(tf.tensor2d(means), embedding, Int32Array.from(Y), 0.9);
      const loss = tf.add(tf.mul(compactnessLoss(embedding, tf.clone(updated), batch.y, 0.1), 2), dispersionLoss(updated, 0.1));
      return { loss: loss.dataSync()[0]!, updated: Array.from(updated.dataSync()) };
    });
    const { loss } = await trainer.step(batch);
    expect(loss).toBeCloseTo(expected.loss, 5);
    const state = trainer.getState();
    close(state.slots['cider/prototypes']!, expected.updated);
    const again = await buildTrainer('cider', { proto_m: 0.9, w: 2 });
    again.init(net, { epochs: 2, stepsPerEpoch: 3 });
    again.setState(state);
    close(again.getState().slots['cider/prototypes']!, expected.updated, 1e-9);
    tf.dispose([batch.x, batch.y]);
    net.dispose();
  });

  it('refuses a network without a projection head', async () => {
    const trainer = await buildTrainer('cider');
    const plain = backbone();
    expect(() => trainer.init(plain, { epochs: 1, stepsPerEpoch: 1 })).toThrow(/cider_net/);
    expect(trainer.networkWrapper).toBe('cider_net');
    plain.dispose();
  });
});

describe('npos trainer', () => {
  const small = { sample_number: 2, sample_from: 3, K: 2, select: 2, pick_nums: 1, ID_points_num: 2, start_epoch_KNN: 1 };

  it('fills the queues first; once full, synthesises C·pick·ID_points_num outliers and adds loss_weight·BCE to the loss', async () => {
    const run = async (lossWeight: number) => {
      const net = new NposNet(backbone(), Rng.fromSeed(2), { feat_dim: 4, head: 'linear' });
      const trainer = (await buildTrainer('npos', { ...small, loss_weight: lossWeight })) as Trainer & { lastOutlierCount: number };
      trainer.init(net, { epochs: 1, stepsPerEpoch: 4 });
      const batch = makeBatch(X, Y, SHAPE);
      const first = await trainer.step(batch); // fill phase (2 per class = full at the end)
      const firstCount = trainer.lastOutlierCount;
      const second = await trainer.step(batch);
      const out = { first: first.loss, second: second.loss, firstCount, secondCount: trainer.lastOutlierCount, state: trainer.getState() };
      tf.dispose([batch.x, batch.y]);
      net.dispose();
      return out;
    };
    const off = await run(0);
    const on = await run(0.1);
    expect([on.firstCount, on.secondCount]).toEqual([0, 3 * 1 * 2]);
    expect(on.first).toBeCloseTo(off.first, 6); // no synthesis yet: the same loss
    const bce = (on.second - off.second) / 0.1; // same weights and prototypes: the difference is 0.1·BCE
    expect(bce).toBeGreaterThan(0.05);
    expect(bce).toBeLessThan(20);
    expect(Array.from(on.state.slots['npos/queue']!).some((v) => v !== 0)).toBe(true);
    expect((on.state.extra as { nposCounts: number[] }).nposCounts).toEqual([2, 2, 2]);
  });

  it('refuses a projection network without the boundary mlp, and K beyond the queue', async () => {
    const trainer = await buildTrainer('npos');
    const cider = new CiderNet(backbone(), Rng.fromSeed(2), { feat_dim: 4, head: 'linear' });
    expect(() => trainer.init(cider, { epochs: 1, stepsPerEpoch: 1 })).toThrow(/npos_net/);
    cider.dispose();
    const id = tf.zeros([3, 2]) as tf.Tensor2D;
    const gaussian = tf.zeros([2, 2]) as tf.Tensor2D;
    expect(() => synthesizeOutliers(id, { K: 4, select: 1, pickNums: 1, covMat: 0.1, idPointsNum: 1, gaussian, picks: [0] })).toThrow(
      /K \(4\) exceeds/,
    );
    tf.dispose([id, gaussian]);
  });
});

describe('resume', () => {
  it.each([
    ['cider', { feat_dim: 4, head: 'mlp' }, {}],
    [
      'npos',
      { feat_dim: 4, head: 'linear' },
      { sample_number: 2, sample_from: 3, K: 2, select: 2, pick_nums: 1, ID_points_num: 2, start_epoch_KNN: 1 },
    ],
  ] as const)('%s: getState/setState into a fresh trainer continues exactly like the original', async (name, netArgs, args) => {
    const make = () =>
      name === 'cider' ? new CiderNet(backbone(), Rng.fromSeed(2), netArgs) : new NposNet(backbone(), Rng.fromSeed(2), netArgs);
    const netA = make();
    const netB = make();
    const plan = { epochs: 2, stepsPerEpoch: 3 };
    const a = await buildTrainer(name, args);
    a.init(netA, plan);
    const batch = makeBatch(X, Y, SHAPE);
    await a.step(batch);
    await a.step(batch);
    for (const [key, v] of netA.namedVariables()) netB.namedVariables().get(key)!.assign(v);
    const b = await buildTrainer(name, args);
    b.init(netB, plan);
    b.setState(a.getState());
    const next = [(await a.step(batch)).loss, (await b.step(batch)).loss];
    expect(next[1]).toBe(next[0]);
    tf.dispose([batch.x, batch.y]);
    netA.dispose();
    netB.dispose();
  });
});
