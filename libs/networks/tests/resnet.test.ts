import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { ParameterStore, batchNorm, conv2d, convBatchNorm, makeBatchNorm, makeConv, type ResNet18 } from '../src/index.js';
import { build, input, maxAbsDiff } from './helpers.js';

// Full-size forwards on the pure-JS backend take a few seconds on a loaded 2-core machine.
vi.setConfig({ testTimeout: 60_000 });

beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

const RESNET18_PARAMS_10 = 11_173_962; // torchvision/OpenOOD ResNet-18 with a 10-class head

describe('resnet18_32x32', () => {
  it('has the OpenOOD structure: names, parameter count, block shapes', async () => {
    const net = await build('resnet18_32x32', { image_size: 16 });
    const names = [...net.namedVariables().keys()];
    expect(names.slice(0, 6)).toEqual([
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'layer1.0.conv1.weight',
    ]);
    expect(names).toContain('layer2.0.shortcut.0.weight');
    expect(names).toContain('layer4.1.bn2.running_var');
    expect(names).not.toContain('layer1.0.shortcut.0.weight');
    expect(names.slice(-2)).toEqual(['fc.weight', 'fc.bias']);
    expect(net.trainableVariables().reduce((s, v) => s + v.size, 0)).toBe(RESNET18_PARAMS_10);
    expect(net.namedVariables().get('conv1.weight')!.shape).toEqual([3, 3, 3, 64]);
    const x = input([2, 16, 16, 3]);
    const { logits, features, blocks } = net.forwardBlocks(x);
    expect(logits.shape).toEqual([2, 10]);
    expect(features.shape).toEqual([2, 512]);
    expect(blocks.map((b) => b.shape)).toEqual([
      [2, 16, 16, 64],
      [2, 16, 16, 64],
      [2, 8, 8, 128],
      [2, 4, 4, 256],
      [2, 1, 1, 512],
    ]);
    tf.dispose([x, logits, features, ...blocks]);
    net.dispose();
  });

  it('runs the real 32×32 input at batch 1', async () => {
    const net = await build('resnet18_32x32', { num_classes: 100 });
    const x = input([1, 32, 32, 3]);
    const { logits, features } = net.forwardFeatures(x);
    expect(logits.shape).toEqual([1, 100]);
    expect(features.shape).toEqual([1, 512]);
    expect(Number.isFinite(logits.dataSync()[0])).toBe(true);
    tf.dispose([x, logits, features]);
    net.dispose();
  });

  it('head/threshold identities hold; eval forward is deterministic; no leaks', async () => {
    const net = await build('resnet18_32x32', { image_size: 8 });
    const x = input([2, 8, 8, 3]);
    const base = tf.memory().numTensors;
    const logits = net.forward(x);
    const again = net.forward(x);
    expect(maxAbsDiff(logits, again)).toBe(0);
    const { features } = tf.tidy(() => ({ features: net.forwardFeatures(x).features }));
    const head = net.head(features);
    expect(maxAbsDiff(head, logits)).toBeLessThan(1e-5);
    const inf = net.forwardThreshold(x, Infinity);
    expect(maxAbsDiff(inf, logits)).toBe(0);
    tf.dispose([logits, again, features, head, inf]);
    expect(tf.memory().numTensors).toBe(base);
    tf.dispose(net.forward(x, true));
    expect(tf.memory().numTensors).toBe(base);
    x.dispose();
    net.dispose();
  });

  it('training mode updates running statistics (momentum 0.1), eval mode uses them and leaves them alone', async () => {
    const net = await build('resnet18_32x32', { image_size: 8 });
    const x = tf.add(tf.mul(input([4, 8, 8, 3]), 2), 1) as tf.Tensor4D;
    const rm = () => net.namedVariables().get('bn1.running_mean')!.dataSync().slice();
    const rv = () => net.namedVariables().get('bn1.running_var')!.dataSync().slice();
    expect([...rm()].every((v) => v === 0)).toBe(true);
    tf.dispose(net.forward(x));
    expect([...rm()].every((v) => v === 0)).toBe(true);
    // The stem's batch statistics, computed independently from conv1's output.
    const stem = tf.tidy(() =>
      tf.conv2d(x, net.namedVariables().get('conv1.weight') as tf.Tensor4D, 1, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]),
    );
    const values = stem.arraySync() as number[][][][];
    stem.dispose();
    const n = 4 * 8 * 8;
    const mean = new Array(64).fill(0);
    const sq = new Array(64).fill(0);
    for (const img of values) for (const row of img) for (const px of row) px.forEach((v, c) => (mean[c] += v / n));
    for (const img of values) for (const row of img) for (const px of row) px.forEach((v, c) => (sq[c] += (v - mean[c]) ** 2));
    const eval1 = net.forward(x);
    tf.dispose(net.forward(x, true));
    const m1 = rm();
    const v1 = rv();
    for (let c = 0; c < 64; c++) {
      expect(m1[c]).toBeCloseTo(0.1 * mean[c], 5);
      expect(v1[c]).toBeCloseTo(0.9 + (0.1 * sq[c]) / (n - 1), 4);
    }
    const eval2 = net.forward(x);
    expect(maxAbsDiff(eval1, eval2)).toBeGreaterThan(1e-6); // eval now normalises with the new running stats
    tf.dispose([x, eval1, eval2]);
    net.dispose();
  });

  it('same seed, same weights (conv init U(±1/√fan_in))', async () => {
    const a = await build('resnet18_32x32', { image_size: 8 }, 3);
    const b = await build('resnet18_32x32', { image_size: 8 }, 3);
    expect(maxAbsDiff(a.namedVariables().get('layer3.1.conv2.weight')!, b.namedVariables().get('layer3.1.conv2.weight')!)).toBe(0);
    const w = a.namedVariables().get('layer1.0.conv1.weight')!.dataSync() as Float32Array; // fan_in 576
    const bound = 1 / Math.sqrt(576);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeCloseTo(bound / Math.sqrt(3), 3);
    a.dispose();
    b.dispose();
  });
});

describe('resnet18_224x224', () => {
  it('has the ImageNet stem (7×7/2 + max-pool), downsample names, kaiming fan_out init', async () => {
    const net = await build('resnet18_224x224', { num_classes: 10, image_size: 64 });
    const names = [...net.namedVariables().keys()];
    expect(names).toContain('layer3.0.downsample.1.running_mean');
    expect(net.namedVariables().get('conv1.weight')!.shape).toEqual([7, 7, 3, 64]);
    expect(net.trainableVariables().reduce((s, v) => s + v.size, 0)).toBe(RESNET18_PARAMS_10 - 3 * 3 * 3 * 64 + 7 * 7 * 3 * 64);
    const w = net.namedVariables().get('layer4.1.conv1.weight')!.dataSync() as Float32Array;
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeCloseTo(Math.sqrt(2 / (9 * 512)), 3);
    const x = input([2, 64, 64, 3]);
    const { logits, features, blocks } = net.forwardBlocks(x);
    expect(logits.shape).toEqual([2, 10]);
    expect(features.shape).toEqual([2, 512]);
    expect(blocks.map((b) => b.shape)).toEqual([
      [2, 16, 16, 64],
      [2, 16, 16, 64],
      [2, 8, 8, 128],
      [2, 4, 4, 256],
      [2, 1, 1, 512],
    ]);
    tf.dispose([x, logits, features, ...blocks]);
    net.dispose();
  });

  it('max-pool pads symmetrically like PyTorch (window of output 0 covers input rows -1..1)', async () => {
    const net = await build('resnet18_224x224', { image_size: 32 });
    const x = input([1, 32, 32, 3]);
    const { logits, features, blocks } = net.forwardBlocks(x);
    expect(blocks[0].shape).toEqual([1, 8, 8, 64]);
    // Fresh BN in eval mode is y = x/√(1+eps); the stem is then relu(conv) scaled.
    const stem = tf.tidy(() =>
      tf.relu(
        tf.div(
          tf.conv2d(x, net.namedVariables().get('conv1.weight') as tf.Tensor4D, 2, [
            [0, 0],
            [3, 3],
            [3, 3],
            [0, 0],
          ]),
          Math.sqrt(1 + 1e-5),
        ),
      ),
    );
    expect(stem.shape).toEqual([1, 16, 16, 64]);
    const s = (stem.arraySync() as number[][][][])[0];
    const pooled = blocks[0].arraySync() as number[][][][];
    for (const [i, j] of [
      [0, 0],
      [3, 5],
      [7, 7],
    ]) {
      for (let c = 0; c < 64; c += 9) {
        let m = -Infinity;
        for (let di = -1; di <= 1; di++)
          for (let dj = -1; dj <= 1; dj++) {
            const r = 2 * i + di;
            const q = 2 * j + dj;
            if (r >= 0 && q >= 0 && r < 16 && q < 16) m = Math.max(m, s[r][q][c]);
          }
        expect(pooled[0][i][j][c]).toBeCloseTo(m, 5);
      }
    }
    tf.dispose([x, stem, logits, features, ...blocks]);
    net.dispose();
  });

  it('has no dropout by default (OpenOOD v1.5 = torchvision): training-mode z is deterministic', async () => {
    const net = await build('resnet18_224x224', { image_size: 32 });
    const x = input([2, 32, 32, 3]);
    const a = net.forwardFeatures(x, true);
    const b = net.forwardFeatures(x, true);
    expect(maxAbsDiff(a.features, b.features)).toBe(0);
    tf.dispose([x, a.features, a.logits, b.features, b.logits]);
    net.dispose();
  });

  it('applies dropout (here 0.5) to z only in training mode, reproducibly from its random state', async () => {
    const net = (await build('resnet18_224x224', { image_size: 32, dropout: 0.5 })) as ResNet18;
    const plain = await build('resnet18_224x224', { image_size: 32, dropout: 0 }); // same seed: same weights
    const x = input([4, 32, 32, 3]);
    const evalA = net.forward(x);
    const evalB = plain.forward(x);
    expect(maxAbsDiff(evalA, evalB)).toBe(0);
    const state = net.getRandomState();
    const train1 = net.forwardFeatures(x, true);
    net.setRandomState(state);
    const train2 = net.forwardFeatures(x, true);
    expect(maxAbsDiff(train1.features, train2.features)).toBe(0);
    const raw = plain.forwardFeatures(x, true);
    const z = train1.features.dataSync();
    const r = raw.features.dataSync();
    let kept = 0;
    let positive = 0;
    for (let i = 0; i < z.length; i++) {
      if (r[i] <= 0) continue;
      positive++;
      if (z[i] !== 0) {
        kept++;
        expect(z[i]).toBeCloseTo(2 * r[i], 4);
      }
    }
    expect(kept / positive).toBeGreaterThan(0.4);
    expect(kept / positive).toBeLessThan(0.6);
    expect(maxAbsDiff(net.head(train1.features), train1.logits)).toBeLessThan(1e-5);
    tf.dispose([x, train1.features, train1.logits, train2.features, train2.logits, raw.features, raw.logits, evalA, evalB]);
    net.dispose();
    plain.dispose();
  });

  it('runs the real 224×224 input at batch 1', async () => {
    const net = await build('resnet18_224x224');
    const x = input([1, 224, 224, 3]);
    const { logits, blocks, features } = net.forwardBlocks(x);
    expect(logits.shape).toEqual([1, 200]);
    expect(blocks.map((b) => b.shape.slice(1))).toEqual([
      [56, 56, 64],
      [56, 56, 64],
      [28, 28, 128],
      [14, 14, 256],
      [1, 1, 512],
    ]);
    tf.dispose([x, logits, features, ...blocks]);
    net.dispose();
  });
});

describe('batchNorm', () => {
  it('normalises with batch statistics in training and running statistics in eval', () => {
    const store = new ParameterStore(Rng.fromSeed(0));
    const bn = makeBatchNorm(store, 'bn', 2);
    bn.runningMean.assign(tf.tensor1d([1, -1]));
    bn.runningVar.assign(tf.tensor1d([4, 0.25]));
    bn.gamma.assign(tf.tensor1d([2, 1]));
    bn.beta.assign(tf.tensor1d([0.5, 0]));
    const x = tf.tensor4d([3, 0, 5, 1, -1, 2, 1, 1], [2, 2, 1, 2]);
    const evalOut = batchNorm(x, bn, false).dataSync();
    // channel 0: (3-1)/√(4+1e-5)·2+0.5 = 2.5
    expect(evalOut[0]).toBeCloseTo(2 * (2 / Math.sqrt(4 + 1e-5)) + 0.5, 5);
    expect(evalOut[1]).toBeCloseTo((0 + 1) / Math.sqrt(0.25 + 1e-5), 4);
    const train = batchNorm(x, bn, true).dataSync();
    // channel 0 values 3,5,-1,1: mean 2, biased var 5, unbiased 20/3
    expect(train[0]).toBeCloseTo(2 * (1 / Math.sqrt(5 + 1e-5)) + 0.5, 5);
    expect(bn.runningMean.dataSync()[0]).toBeCloseTo(0.9 * 1 + 0.1 * 2, 6);
    expect(bn.runningVar.dataSync()[0]).toBeCloseTo(0.9 * 4 + 0.1 * (20 / 3), 5);
    x.dispose();
    store.dispose();
  });
});

describe('convBatchNorm', () => {
  it('eval mode (batch norm folded into the conv) equals batchNorm(conv2d(x)) [+ ReLU], with and without conv bias', () => {
    const store = new ParameterStore(Rng.fromSeed(3));
    for (const [bias, relu, stride, pad] of [
      [false, true, 1, 1],
      [true, false, 2, 0],
      [false, false, 2, 1],
    ] as const) {
      const conv = makeConv(store, `c${bias}${relu}${stride}`, {
        inChannels: 16,
        outChannels: 24,
        kernel: 3,
        stride,
        pad,
        bias,
        init: 'torch_default',
      });
      const bn = makeBatchNorm(store, `b${bias}${relu}${stride}`, 24);
      const r = Rng.fromSeed(9);
      const vec = (f: () => number) => tf.tensor1d(Array.from({ length: 24 }, f));
      bn.runningMean.assign(vec(() => r.normal()));
      bn.runningVar.assign(vec(() => 0.2 + r.uniform() * 3));
      bn.gamma.assign(vec(() => 1 + 0.5 * r.normal()));
      bn.beta.assign(vec(() => r.normal()));
      const x = tf.randomNormal([3, 9, 9, 16], 0, 1, 'float32', 5) as tf.Tensor4D;
      const folded = convBatchNorm(x, conv, bn, false, { relu });
      const plain = batchNorm(conv2d(x, conv), bn, false, { relu });
      const diff = tf.max(tf.abs(tf.sub(folded, plain))).dataSync()[0]!;
      const scale = tf.max(tf.abs(plain)).dataSync()[0]!;
      expect(folded.shape).toEqual(plain.shape);
      expect(diff / scale).toBeLessThan(1e-5);
      if (relu) expect(tf.min(folded).dataSync()[0]).toBeGreaterThanOrEqual(0);
      tf.dispose([x, folded, plain]);
    }
    store.dispose();
  });
});
