import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { cholesky } from '../src/index.js';
import {
  B0,
  C,
  D,
  LinearClassifier,
  SHAPE,
  W0,
  X,
  Y,
  buildTrainer,
  ce,
  disposeBatch,
  logitsOf,
  makeBatch,
  mean,
  trainerRng,
} from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

const X2 = X.map((x, i) => x.map((v, j) => Math.round(100 * (0.6 * v + 0.3 * Math.cos(i + 2 * j))) / 100));

function weightedEnergy(l: number[], w: number[]): number {
  const m = Math.max(...l);
  return m + Math.log(l.reduce((s, v, c) => s + Math.max(0, w[c]) * Math.exp(v - m), 0));
}

describe('vos', () => {
  it('fills the queues with CE only, then adds 0.1·CE of the energy logistic regression on virtual outliers', async () => {
    const net = new LinearClassifier(SHAPE, C, W0, B0);
    const b1 = makeBatch(X, Y, SHAPE);
    const b2 = makeBatch(X2, Y, SHAPE);
    cleanup.push(
      () => net.dispose(),
      () => disposeBatch(b1),
      () => disposeBatch(b2),
    );
    const sampleFrom = 40;
    const trainer = await buildTrainer('vos', { sample_number: 2, sample_from: sampleFrom });
    trainer.init(net, { epochs: 1, stepsPerEpoch: 10 });
    const first = await trainer.step(b1); // 2 samples per class fill the queues exactly
    expect(first.loss).toBeCloseTo(mean(X.map((x, i) => ce(logitsOf(W0, B0, x), Y[i]))), 5);

    const [w, b] = [net.w, net.b];
    const slots = trainer.getState().slots;
    expect(Array.from(slots['vos/queue'])).toEqual([0, 1, 2].flatMap((c) => [X[c], X[c + 3]].flat()).map((v) => expect.closeTo(v, 6)));
    const we = Array.from(slots['param/weight_energy.weight']);
    const lrW = Array.from(slots['param/logistic_regression.weight']);
    const lrB = Array.from(slots['param/logistic_regression.bias']);
    const second = await trainer.step(b2);

    // Queues are full: the new features replace the oldest, so each class now holds its X2 samples.
    const members = [0, 1, 2].map((c) => [X2[c], X2[c + 3]]);
    const means = members.map((m) => m[0].map((_, j) => (m[0][j] + m[1][j]) / 2));
    const cov = new Array(D * D).fill(0);
    members.forEach((m, c) =>
      m.forEach((f) => {
        for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) cov[i * D + j] += ((f[i] - means[c][i]) * (f[j] - means[c][j])) / 6;
      }),
    );
    for (let i = 0; i < D; i++) cov[i * D + i] += 1e-4;
    const L = cholesky(cov, D);
    const eps = tf.tidy(() =>
      tf.randomNormal([C, sampleFrom, D], 0, 1, 'float32', trainerRng(0).derive('draws').nextSeed()).arraySync(),
    ) as number[][][];
    const outliers = eps.map((rows, c) => {
      const norms = rows.map((r) => r.reduce((s, v) => s + v * v, 0));
      const e = rows[norms.indexOf(Math.max(...norms))];
      return means[c].map((mu, i) => mu + e.reduce((s, v, k) => s + L[i * D + k] * v, 0));
    });
    const idLogits = X2.map((x) => logitsOf(w, b, x));
    const energies = [...idLogits, ...outliers.map((o) => logitsOf(w, b, o))].map((l) => weightedEnergy(l, we));
    const labels = [...Y.map(() => 1), ...outliers.map(() => 0)];
    const lrLoss = mean(energies.map((e, i) => ce([e * lrW[0] + lrB[0], e * lrW[1] + lrB[1]], labels[i])));
    const ceLoss = mean(idLogits.map((l, i) => ce(l, Y[i])));
    expect(lrLoss).toBeGreaterThan(0.01);
    expect(second.loss).toBeCloseTo(ceLoss + 0.1 * lrLoss, 4);
    // The trainer's own parameters are optimised too.
    expect(Array.from(trainer.getState().slots['param/weight_energy.weight'])).not.toEqual(we);
  });

  it('before start_epoch it only fills/refreshes the queues', async () => {
    const net = new LinearClassifier(SHAPE, C, W0, B0);
    const b1 = makeBatch(X, Y, SHAPE);
    cleanup.push(
      () => net.dispose(),
      () => disposeBatch(b1),
    );
    const trainer = await buildTrainer('vos', { sample_number: 2, sample_from: 10, start_epoch: 1 });
    trainer.init(net, { epochs: 2, stepsPerEpoch: 10 });
    await trainer.step(b1);
    const [w, b] = [net.w, net.b];
    const { loss } = await trainer.step(b1);
    expect(loss).toBeCloseTo(mean(X.map((x, i) => ce(logitsOf(w, b, x), Y[i]))), 5);
  });
});

describe('trainer state', () => {
  for (const [name, args] of [
    ['base', {}],
    ['mixup', { alpha: 1 }],
    ['vos', { sample_number: 2, sample_from: 20 }],
  ] as const) {
    it(`${name}: getState/setState on a fresh trainer continues exactly like the original`, async () => {
      const a = new LinearClassifier(SHAPE, C, W0, B0);
      const b = new LinearClassifier(SHAPE, C, W0, B0);
      const batch = makeBatch(X, Y, SHAPE);
      cleanup.push(
        () => a.dispose(),
        () => b.dispose(),
        () => disposeBatch(batch),
      );
      const plan = { epochs: 1, stepsPerEpoch: 8 };
      const original = await buildTrainer(name, args, 3);
      original.init(a, plan);
      for (let i = 0; i < 3; i++) await original.step(batch);
      const state = original.getState();
      expect(state.step).toBe(3);
      expect(Object.keys(state.slots)).toEqual(expect.arrayContaining(['momentum/fc.weight', 'momentum/fc.bias']));
      // Checkpoints carry host data only: a JSON-like copy must be enough.
      const copy = {
        step: state.step,
        slots: Object.fromEntries(Object.entries(state.slots).map(([k, v]) => [k, Float32Array.from(v)])),
        extra: JSON.parse(JSON.stringify(state.extra)),
      };
      const resumed = await buildTrainer(name, args, 99); // a different seed: everything must come from the state
      resumed.init(b, plan);
      b.weight.assign(a.weight);
      b.bias.assign(a.bias);
      resumed.setState(copy);
      for (let i = 0; i < 2; i++) {
        const la = (await original.step(batch)).loss;
        const lb = (await resumed.step(batch)).loss;
        expect(lb).toBeCloseTo(la, 6);
      }
      expect(b.w.flat()).toEqual(a.w.flat().map((v) => expect.closeTo(v, 6)));
    });
  }

  it('rejects state that does not fit', async () => {
    const net = new LinearClassifier(SHAPE, C, W0, B0);
    cleanup.push(() => net.dispose());
    const trainer = await buildTrainer('base');
    trainer.init(net, { epochs: 1, stepsPerEpoch: 1 });
    expect(() => trainer.setState({ step: 1, slots: { 'momentum/conv.weight': new Float32Array(3) } })).toThrow(/conv\.weight/);
    expect(() => trainer.setState({ step: 1, slots: { 'vos/queue': new Float32Array(3) } })).toThrow(/unexpected state slots/);
  });
});
