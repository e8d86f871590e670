import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { Sgd, cholesky, cosineLearningRate, randomBox, sampleBeta, sgdUpdate } from '../src/index.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

const opts = { momentum: 0.9, weightDecay: 0.1, nesterov: true, dampening: 0 };

describe('PyTorch SGD (Nesterov, coupled weight decay)', () => {
  it('matches a hand-computed two-step update', () => {
    const p0 = tf.tensor1d([1, -2]);
    const s1 = sgdUpdate(p0, tf.tensor1d([0.5, 0.25]), undefined, 0.1, opts);
    // d = g + wd·p = [0.6, 0.05]; buf = d; d + μ·buf = [1.14, 0.095]; p − 0.1·that
    expect(Array.from(s1.param.dataSync())).toEqual([expect.closeTo(0.886, 6), expect.closeTo(-2.0095, 6)]);
    expect(Array.from(s1.buffer!.dataSync())).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.05, 6)]);
    const s2 = sgdUpdate(s1.param, tf.tensor1d([0.1, -0.3]), s1.buffer, 0.05, opts);
    // d = [0.1886, -0.50095]; buf = 0.9·[0.6, 0.05] + d = [0.7286, -0.45595]; d + 0.9·buf = [0.84434, -0.911305]
    expect(Array.from(s2.buffer!.dataSync())).toEqual([expect.closeTo(0.7286, 5), expect.closeTo(-0.45595, 5)]);
    expect(Array.from(s2.param.dataSync())).toEqual([
      expect.closeTo(0.886 - 0.05 * 0.84434, 5),
      expect.closeTo(-2.0095 + 0.05 * 0.911305, 5),
    ]);
  });

  it('plain momentum uses the buffer as the direction; dampening scales the gradient after the first step', () => {
    const plain = { momentum: 0.5, weightDecay: 0, nesterov: false, dampening: 0.2 };
    const s1 = sgdUpdate(tf.scalar(1), tf.scalar(2), undefined, 0.1, plain);
    expect(s1.param.dataSync()[0]).toBeCloseTo(1 - 0.1 * 2, 6); // first buffer = d (no dampening)
    const s2 = sgdUpdate(s1.param, tf.scalar(1), s1.buffer, 0.1, plain);
    expect(s2.buffer!.dataSync()[0]).toBeCloseTo(0.5 * 2 + 0.8 * 1, 6);
    expect(s2.param.dataSync()[0]).toBeCloseTo(0.8 - 0.1 * 1.8, 6);
  });

  it('Sgd keeps buffers by name, round-trips them through host slots, and does not leak', () => {
    const make = () => new Map([['w', tf.variable(tf.tensor1d([1, -2]))]]);
    const a = make();
    const sgd = new Sgd(opts);
    const g = new Map([['w', tf.tensor1d([0.5, 0.25])]]);
    sgd.apply(a, g, 0.1);
    const count = tf.memory().numTensors;
    sgd.apply(a, g, 0.1);
    expect(tf.memory().numTensors).toBe(count);
    const b = make();
    b.get('w')!.assign(tf.tensor1d([0.886, -2.0095]));
    const restored = new Sgd(opts);
    const slots = new Sgd(opts);
    slots.apply(make(), g, 0.1);
    restored.setSlots(slots.getSlots(), b);
    restored.apply(b, g, 0.1);
    const wa = a.get('w')!.dataSync();
    const wb = b.get('w')!.dataSync();
    expect(wb[0]).toBeCloseTo(wa[0], 6);
    expect(wb[1]).toBeCloseTo(wa[1], 6);
    expect(() => restored.setSlots({ v: new Float32Array(2) }, b)).toThrow(/'v'.*not a parameter/);
    expect(() => restored.setSlots({ w: new Float32Array(3) }, b)).toThrow(/3 values/);
  });
});

describe('cosine schedule (OpenOOD LambdaLR cosine_annealing)', () => {
  it('starts at lr, halves at mid-run and ends at min_lr', () => {
    expect(cosineLearningRate(0, 100, 0.1, 1e-6)).toBeCloseTo(0.1, 12);
    expect(cosineLearningRate(50, 100, 0.1, 1e-6)).toBeCloseTo(1e-6 + (0.1 - 1e-6) / 2, 12);
    expect(cosineLearningRate(25, 100, 0.1, 1e-6)).toBeCloseTo(1e-6 + (0.1 - 1e-6) * 0.5 * (1 + Math.SQRT1_2), 12);
    expect(cosineLearningRate(100, 100, 0.1, 1e-6)).toBeCloseTo(1e-6, 15);
    expect(cosineLearningRate(1, 4, 0.2, 0)).toBeCloseTo(0.2 * 0.5 * (1 + Math.cos(Math.PI / 4)), 12);
  });
});

describe('random draws', () => {
  it('Beta samples have the right mean and variance', () => {
    const rng = Rng.fromSeed(1);
    for (const [a, b] of [
      [2, 5],
      [0.2, 0.2],
      [0.1, 1],
      [20, 20],
    ]) {
      const n = 20000;
      const xs = Array.from({ length: n }, () => sampleBeta(rng, a, b));
      const m = xs.reduce((s, v) => s + v, 0) / n;
      const v = xs.reduce((s, x) => s + (x - m) ** 2, 0) / n;
      expect(xs.every((x) => x >= 0 && x <= 1)).toBe(true);
      expect(m).toBeCloseTo(a / (a + b), 2);
      expect(v).toBeCloseTo((a * b) / ((a + b) ** 2 * (a + b + 1)), 2);
    }
  });

  it('CutMix boxes lie in the image and λ equals the kept-area fraction', () => {
    const rng = Rng.fromSeed(2);
    for (let i = 0; i < 200; i++) {
      const { box, lam } = randomBox(rng, 8, 6, rng.uniform());
      expect(box.r1).toBeGreaterThanOrEqual(0);
      expect(box.r2).toBeLessThanOrEqual(8);
      expect(box.c2).toBeLessThanOrEqual(6);
      expect(lam).toBeCloseTo(1 - ((box.r2 - box.r1) * (box.c2 - box.c1)) / 48, 12);
    }
    expect(randomBox(rng, 8, 8, 1).lam).toBe(1);
    // λ = 0.75 on 8×8: cut side ⌊8·0.5⌋ = 4, half 2; a centre far from the edges gives a 4×4 box
    const centred = randomBox({ int: () => 4, uniform: () => 0 } as unknown as Rng, 8, 8, 0.75);
    expect(centred.box).toEqual({ r1: 2, r2: 6, c1: 2, c2: 6 });
    expect(centred.lam).toBe(0.75);
  });
});

describe('cholesky', () => {
  it('factors a positive-definite matrix and rejects others', () => {
    const a = [4, 2, 0.4, 2, 5, 1, 0.4, 1, 3];
    const l = cholesky(a, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += l[i * 3 + k] * l[j * 3 + k];
        expect(s).toBeCloseTo(a[i * 3 + j], 12);
        if (j > i) expect(l[i * 3 + j]).toBe(0);
      }
    expect(l[0]).toBe(2);
    expect(() => cholesky([1, 2, 2, 1], 2)).toThrow(/not positive definite/);
  });
});
