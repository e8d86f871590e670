import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { ConfigError, Rng, silentLogger } from '@oodkit/core';
import { build, input, maxAbsDiff, registry } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

/** Naive NHWC convolution (weights [kh, kw, in, out]) with symmetric zero padding, stride 1. */
function convRef(x: number[][][], w: number[][][][], b: number[], pad: number): number[][][] {
  const [h, wd, cin] = [x.length, x[0].length, x[0][0].length];
  const k = w.length;
  const cout = b.length;
  const ho = h + 2 * pad - k + 1;
  const out: number[][][] = [];
  for (let i = 0; i < ho; i++) {
    const row: number[][] = [];
    for (let j = 0; j < ho; j++) {
      const v = b.slice();
      for (let di = 0; di < k; di++)
        for (let dj = 0; dj < k; dj++) {
          const yi = i + di - pad;
          const xj = j + dj - pad;
          if (yi < 0 || xj < 0 || yi >= h || xj >= wd) continue;
          for (let c = 0; c < cin; c++) for (let o = 0; o < cout; o++) v[o] += x[yi][xj][c] * w[di][dj][c][o];
        }
      row.push(v);
    }
    out.push(row);
  }
  return out;
}
const relu3 = (t: number[][][]) => t.map((r) => r.map((v) => v.map((u) => Math.max(0, u))));
function pool2(t: number[][][]): number[][][] {
  const out: number[][][] = [];
  for (let i = 0; i + 1 < t.length; i += 2) {
    const row: number[][] = [];
    for (let j = 0; j + 1 < t[0].length; j += 2)
      row.push(t[i][j].map((_, c) => Math.max(t[i][j][c], t[i + 1][j][c], t[i][j + 1][c], t[i + 1][j + 1][c])));
    out.push(row);
  }
  return out;
}
const dense = (v: number[], w: number[][], b: number[]) => w.map((row, o) => row.reduce((s, wi, i) => s + wi * v[i], b[o]));

describe('lenet', () => {
  it('builds from the registry with OpenOOD shapes and stable parameter names', async () => {
    const net = await build('lenet');
    expect(net.inputShape).toEqual([28, 28, 1]);
    expect(net.featureDim).toBe(84);
    const names = [...net.namedVariables().keys()];
    expect(names).toEqual([
      'block1.0.weight',
      'block1.0.bias',
      'block2.0.weight',
      'block2.0.bias',
      'block3.0.weight',
      'block3.0.bias',
      'classifier1.weight',
      'classifier1.bias',
      'fc.weight',
      'fc.bias',
    ]);
    const count = net.trainableVariables().reduce((s, v) => s + v.size, 0);
    expect(count).toBe(156 + 2416 + 48120 + 10164 + 850);
    const x = input([3, 28, 28, 1]);
    const { logits, features, blocks } = net.forwardBlocks(x);
    expect(logits.shape).toEqual([3, 10]);
    expect(features.shape).toEqual([3, 84]);
    expect(blocks.map((b) => b.shape)).toEqual([
      [3, 14, 14, 6],
      [3, 5, 5, 16],
      [3, 1, 1, 120],
    ]);
    tf.dispose([x, logits, features, ...blocks]);
    net.dispose();
  });

  it('rejects unknown args and wrong input shapes with clear errors', async () => {
    expect(() => registry.resolveArgs('network', { name: 'lenet', args: { num_class: 10 } })).toThrow(ConfigError);
    expect(() => registry.resolveArgs('network', { name: 'lenet', args: { num_class: 10 } })).toThrow(/num_classes/);
    const net = await build('lenet');
    const x = tf.zeros([1, 32, 32, 1]) as tf.Tensor4D;
    expect(() => net.forward(x)).toThrow(/expects input \[N, 28, 28, 1\]/);
    x.dispose();
    net.dispose();
  });

  it('matches an independent plain-JS LeNet on the same weights', async () => {
    const net = await build('lenet', { num_classes: 5, in_channels: 2 });
    const vars = net.namedVariables();
    const get = (n: string) => vars.get(n)!.arraySync() as never;
    const x = input([1, 28, 28, 2], 3);
    const img = (x.arraySync() as number[][][][])[0];
    let h = pool2(relu3(convRef(img, get('block1.0.weight'), get('block1.0.bias'), 2)));
    h = pool2(relu3(convRef(h, get('block2.0.weight'), get('block2.0.bias'), 0)));
    h = relu3(convRef(h, get('block3.0.weight'), get('block3.0.bias'), 0));
    const z = dense(h[0][0], get('classifier1.weight'), get('classifier1.bias')).map((v) => Math.max(0, v));
    const logits = dense(z, get('fc.weight'), get('fc.bias'));
    const got = net.forwardFeatures(x);
    const gotZ = got.features.dataSync();
    const gotLogits = got.logits.dataSync();
    z.forEach((v, i) => expect(gotZ[i]).toBeCloseTo(v, 4));
    logits.forEach((v, i) => expect(gotLogits[i]).toBeCloseTo(v, 4));
    tf.dispose([x, got.logits, got.features]);
    net.dispose();
  });

  it('initialises like PyTorch (U(±1/√fan_in)) and reproducibly from the seed', async () => {
    const a = await build('lenet', {}, 1);
    const b = await build('lenet', {}, 1);
    const c = await build('lenet', {}, 2);
    const w = a.namedVariables().get('block3.0.weight')!; // fan_in 16·25 = 400, bound 0.05
    const values = w.dataSync() as Float32Array;
    const maxAbs = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const std = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
    expect(maxAbs).toBeLessThanOrEqual(0.05);
    expect(maxAbs).toBeGreaterThan(0.049);
    expect(std).toBeCloseTo(0.05 / Math.sqrt(3), 3);
    const fcBias = a.namedVariables().get('fc.bias')!.dataSync() as Float32Array;
    expect(Math.max(...fcBias.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(84));
    for (const [name, v] of a.namedVariables()) {
      expect(maxAbsDiff(v, b.namedVariables().get(name)!)).toBe(0);
      expect(maxAbsDiff(v, c.namedVariables().get(name)!)).toBeGreaterThan(0);
    }
    [a, b, c].forEach((n) => n.dispose());
  });

  it('head(features) = forward, forwardThreshold(+inf) = forward, threshold clips z', async () => {
    const net = await build('lenet');
    const x = input([4, 28, 28, 1]);
    const logits = net.forward(x);
    const { features, logits: l2 } = net.forwardFeatures(x);
    const viaHead = net.head(features);
    expect(maxAbsDiff(viaHead, logits)).toBeLessThan(1e-6);
    expect(maxAbsDiff(l2, logits)).toBe(0);
    const inf = net.forwardThreshold(x, Number.POSITIVE_INFINITY);
    expect(maxAbsDiff(inf, logits)).toBe(0);
    // Clip at the median activation: equals head(min(z, t)) and differs from the unclipped logits.
    const t = [...features.dataSync()].sort((p, q) => p - q)[Math.floor(features.size / 2)];
    const clipped = net.forwardThreshold(x, t);
    const expected = tf.tidy(() => net.head(tf.minimum(features, t)));
    expect(maxAbsDiff(clipped, expected)).toBeLessThan(1e-6);
    expect(maxAbsDiff(clipped, logits)).toBeGreaterThan(1e-4);
    const { weight, bias } = net.finalLayer();
    expect(weight.shape).toEqual([10, 84]);
    expect(bias.shape).toEqual([10]);
    const manual = tf.tidy(() => tf.add(tf.matMul(features, weight, false, true), bias));
    expect(maxAbsDiff(manual, logits)).toBeLessThan(1e-6);
    tf.dispose([x, logits, features, l2, viaHead, inf, clipped, expected, weight, bias, manual]);
    net.dispose();
  });

  it('does not leak tensors across forward calls and frees everything on dispose', async () => {
    const before = tf.memory().numTensors;
    const net = await build('lenet');
    const x = input([2, 28, 28, 1]);
    const afterBuild = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.dispose(net.forward(x));
      tf.dispose(net.forward(x, true));
      tf.dispose(Object.values(net.forwardFeatures(x)));
      const blocks = net.forwardBlocks(x);
      tf.dispose([blocks.logits, blocks.features, ...blocks.blocks]);
      tf.dispose(net.forwardThreshold(x, 0.5));
      tf.dispose(Object.values(net.finalLayer()));
      expect(tf.memory().numTensors).toBe(afterBuild);
    }
    x.dispose();
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives every trainable variable a gradient', async () => {
    const net = await build('lenet');
    const x = input([2, 28, 28, 1]);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(net.forward(x, true))) as tf.Scalar, net.trainableVariables());
    for (const v of net.trainableVariables()) {
      expect(grads[v.name], v.name).toBeDefined();
      expect(tf.tidy(() => tf.sum(tf.abs(grads[v.name])).dataSync()[0])).toBeGreaterThan(0);
    }
    tf.dispose([x, value, ...Object.values(grads)]);
    net.dispose();
  });

  it('builds through the registry context rng (different component streams give different weights)', async () => {
    const ctx = { logger: silentLogger, config: {} };
    const a = await registry.build<{ namedVariables(): ReadonlyMap<string, tf.Variable>; dispose(): void }>('network', 'lenet', {
      ...ctx,
      rng: Rng.fromSeed(5).derive('network'),
    });
    const b = await registry.build<{ namedVariables(): ReadonlyMap<string, tf.Variable>; dispose(): void }>('network', 'lenet', {
      ...ctx,
      rng: Rng.fromSeed(5).derive('other'),
    });
    expect(maxAbsDiff(a.namedVariables().get('fc.weight')!, b.namedVariables().get('fc.weight')!)).toBeGreaterThan(0);
    a.dispose();
    b.dispose();
  });
});
