import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, toFloat32, type CheckpointTensor } from '@oodkit/core';
import {
  ResNet,
  fromTorchLayout,
  loadStateDict,
  toTorchLayout,
  torchStateDict,
  upgradeParameterNames,
  type TrunkClassifier,
} from '../src/index.js';
import { build } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

const lenet = async (args: Record<string, unknown> = {}, seed = 0) =>
  (await build('lenet', { in_channels: 3, ...args }, seed)) as TrunkClassifier;
const RESNET_SPEC = {
  name: 'resnet18_32x32',
  numClasses: 10,
  imageSize: 8,
  inChannels: 3,
  stem: 'cifar',
  block: 'basic',
  layers: [2, 2, 2, 2],
  pool: 'global',
  init: 'torch_default',
  projectionName: 'shortcut',
  dropout: 0,
} as const;
const resnet = async (seed = 0) => (await build('resnet18_32x32', { image_size: 8 }, seed)) as TrunkClassifier;

function values(net: TrunkClassifier, name: string): Float32Array {
  return Float32Array.from(net.namedVariables().get(name)!.dataSync() as Float32Array);
}

describe('layout conversion', () => {
  it('OIHW → HWIO puts PyTorch weight[o][i][h][w] at oodkit [h][w][i][o], and back', () => {
    const [o, i, h, w] = [4, 3, 2, 5];
    const torch = Float32Array.from({ length: o * i * h * w }, (_, k) => k);
    const hwio = fromTorchLayout('conv2d', torch, [o, i, h, w]);
    for (const [oo, ii, hh, ww] of [
      [0, 0, 0, 0],
      [3, 2, 1, 4],
      [1, 2, 0, 3],
    ]) {
      expect(hwio[((hh * w + ww) * i + ii) * o + oo]).toBe(((oo * i + ii) * h + hh) * w + ww);
    }
    expect([...toTorchLayout('conv2d', hwio, [o, i, h, w])]).toEqual([...torch]);
    expect(fromTorchLayout('same', torch, [o * i * h * w])).toBe(torch);
  });

  it("a converted conv computes what PyTorch's conv2d computes (hand-checked single output)", () => {
    // PyTorch: y[n, o, y, x] = Σ_{i,kh,kw} W[o, i, kh, kw] · x[n, i, y+kh, x+kw]
    const W = Float32Array.from({ length: 2 * 3 * 2 * 2 }, (_, k) => (k % 7) - 3);
    const xNchw = Float32Array.from({ length: 3 * 3 * 3 }, (_, k) => (k % 5) - 2);
    let want = 0;
    for (let i = 0; i < 3; i++)
      for (let kh = 0; kh < 2; kh++)
        for (let kw = 0; kw < 2; kw++) want += W[((1 * 3 + i) * 2 + kh) * 2 + kw] * xNchw[(i * 3 + 1 + kh) * 3 + 0 + kw];
    const xNhwc = new Float32Array(27);
    for (let i = 0; i < 3; i++)
      for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) xNhwc[(y * 3 + x) * 3 + i] = xNchw[(i * 3 + y) * 3 + x];
    const y = tf.tidy(() =>
      tf
        .conv2d(tf.tensor4d(xNhwc, [1, 3, 3, 3]), tf.tensor4d(fromTorchLayout('conv2d', W, [2, 3, 2, 2]), [2, 2, 3, 2]), 1, 'valid')
        .arraySync(),
    ) as number[][][][];
    expect(y[0][1][0][1]).toBeCloseTo(want, 5);
  });
});

describe('loadStateDict', () => {
  it('torchStateDict → loadStateDict round-trips every parameter exactly (PyTorch layouts in between)', async () => {
    // distinct values everywhere without tfjs's slow seeded draws: a / b start from zeros, a gets a pattern
    const a = new ResNet(RESNET_SPEC, Rng.fromSeed(1), { initialize: false });
    const b = new ResNet(RESNET_SPEC, Rng.fromSeed(2), { initialize: false });
    let offset = 0;
    for (const v of a.namedVariables().values()) {
      tf.tidy(() => v.assign(tf.reshape(tf.sin(tf.add(tf.range(0, v.size, 1, 'float32'), offset)), v.shape)));
      offset += v.size;
    }
    expect(values(b, 'conv1.weight').every((v) => v === 0)).toBe(true);
    const sd = torchStateDict(a);
    expect(sd.get('conv1.weight')!.shape).toEqual([64, 3, 3, 3]);
    expect(sd.get('bn1.num_batches_tracked')).toMatchObject({ dtype: 'int64', shape: [] });
    const report = loadStateDict(b, sd);
    expect(report.ignored).toContain('layer2.0.shortcut.1.num_batches_tracked');
    for (const name of a.namedVariables().keys()) {
      const [va, vb] = [values(a, name), values(b, name)];
      expect(
        vb.every((v, i) => v === va[i]),
        name,
      ).toBe(true); // (toEqual on 11 M elements would take a minute)
    }
    a.dispose();
    b.dispose();
  });

  it('strict: one error lists missing, unexpected and mis-shaped keys, and nothing is assigned', async () => {
    const net = await lenet();
    const before = values(net, 'fc.bias');
    const sd = torchStateDict(await lenet({}, 5));
    sd.delete('block2.0.bias');
    sd.delete('classifier1.weight');
    sd.set('extra.weight', { dtype: 'float32', shape: [1], data: new Float32Array(1) });
    sd.set('fc.weight', { dtype: 'float32', shape: [7, 84], data: new Float32Array(7 * 84) });
    let message = '';
    try {
      loadStateDict(net, sd, { source: 'ckpt.pth' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("ckpt.pth: the state_dict does not fit network 'lenet'");
    expect(message).toContain('missing keys (2): block2.0.bias, classifier1.weight');
    expect(message).toContain('unexpected keys (1): extra.weight');
    expect(message).toContain(
      'size mismatch for fc.weight: [7, 84] in the checkpoint, [10, 84] in the network (the checkpoint has num_classes 7: set network.args.num_classes: 7)',
    );
    expect([...values(net, 'fc.bias')]).toEqual([...before]);
    net.dispose();
  });

  it('non-strict ignores missing/unexpected keys (reported) but never a size mismatch', async () => {
    const net = await lenet();
    const donor = await lenet({}, 9);
    const sd = torchStateDict(donor);
    sd.delete('fc.bias');
    sd.set('aux.weight', { dtype: 'float32', shape: [1], data: new Float32Array(1) });
    const before = values(net, 'fc.bias');
    const report = loadStateDict(net, sd, { strict: false });
    expect(report.missing).toEqual(['fc.bias']);
    expect(report.unexpected).toEqual(['aux.weight']);
    expect([...values(net, 'fc.bias')]).toEqual([...before]);
    expect([...values(net, 'fc.weight')]).toEqual([...values(donor, 'fc.weight')]);
    sd.set('fc.weight', { dtype: 'float32', shape: [3], data: new Float32Array(3) });
    expect(() => loadStateDict(net, sd, { strict: false })).toThrow(/size mismatch for fc\.weight/);
    net.dispose();
    donor.dispose();
  });

  it("num_batches_tracked as PyTorch: required when the module's saved version is ≥ 2, else optional; [1] accepted for []", async () => {
    const net = await resnet();
    const sd = torchStateDict(net);
    for (const k of [...sd.keys()]) if (k.endsWith('num_batches_tracked')) sd.delete(k);
    // a plain dict (no _metadata, e.g. safetensors) or version-1 modules: PyTorch fills in 0
    expect(() => loadStateDict(net, sd)).not.toThrow();
    expect(() => loadStateDict(net, sd, { moduleVersions: new Map([['bn1', 1]]) })).not.toThrow();
    expect(() => loadStateDict(net, sd, { moduleVersions: new Map([['bn1', null]]) })).not.toThrow();
    // version 2 (what current PyTorch saves) makes it a missing key
    expect(() => loadStateDict(net, sd, { moduleVersions: new Map([['bn1', 2]]) })).toThrow(/missing keys \(1\): bn1\.num_batches_tracked/);
    // after a 'module.' prefix is stripped, the versions are looked up under it too
    const prefixed = new Map([...sd].map(([k, v]) => [`module.${k}`, v]));
    expect(() => loadStateDict(net, prefixed, { moduleVersions: new Map([['module.bn1', 2]]) })).toThrow(/bn1\.num_batches_tracked/);
    const full = torchStateDict(net);
    full.set('bn1.num_batches_tracked', { dtype: 'int64', shape: [1], data: BigInt64Array.of(7n) });
    expect(loadStateDict(net, full).ignored).toContain('bn1.num_batches_tracked');
    full.set('bn1.num_batches_tracked', { dtype: 'int64', shape: [2], data: BigInt64Array.of(7n, 8n) });
    expect(() => loadStateDict(net, full)).toThrow(/size mismatch for bn1\.num_batches_tracked: \[2\]/);
    net.dispose();
  });

  it('strips DataParallel/DDP and torch.compile prefixes only when every key has them; hints at other wrappers', async () => {
    const net = await lenet();
    const sd = torchStateDict(await lenet({}, 4));
    const wrap = (p: string) => new Map([...sd].map(([k, v]) => [p + k, v]));
    expect(loadStateDict(net, wrap('module.')).strippedPrefix).toBe('module.');
    expect(loadStateDict(net, wrap('module._orig_mod.')).strippedPrefix).toBe('module._orig_mod.');
    const partial = new Map(sd);
    partial.set('module.extra', sd.get('fc.bias')!);
    expect(() => loadStateDict(net, partial)).toThrow(/unexpected keys \(1\): module\.extra/);
    expect(() => loadStateDict(net, wrap('backbone.'))).toThrow(/checkpoint keys start with 'backbone\.'/);
    net.dispose();
  });

  it('converts float16, bfloat16, float64 and integer tensors to float32 as tensor.float() does', async () => {
    const net = await lenet();
    const sd = torchStateDict(net);
    const bias = sd.get('fc.bias')!;
    const n = bias.data.length;
    const cases: CheckpointTensor[] = [
      { dtype: 'float16', shape: [n], data: new Uint16Array(n).fill(0x3e00) }, // 1.5
      { dtype: 'bfloat16', shape: [n], data: new Uint16Array(n).fill(0xc020) }, // -2.5
      { dtype: 'float64', shape: [n], data: new Float64Array(n).fill(0.1) },
      { dtype: 'int64', shape: [n], data: new BigInt64Array(n).fill(-3n) },
    ];
    const want = [1.5, -2.5, Math.fround(0.1), -3];
    cases.forEach((t, i) => {
      sd.set('fc.bias', t);
      const report = loadStateDict(net, sd);
      expect(report.converted).toEqual({ [t.dtype]: 1 });
      expect(values(net, 'fc.bias')[0]).toBe(want[i]);
    });
    expect([...toFloat32(cases[2])].slice(0, 1)).toEqual([Math.fround(0.1)]);
    net.dispose();
  });
});

describe('oodkit checkpoints from before the OpenOOD names', () => {
  it("LeNet's classifier.0/classifier.2 map to classifier1/fc", () => {
    const old = new Map([
      ['block1.0.weight', 1],
      ['classifier.0.weight', 2],
      ['classifier.2.bias', 3],
    ]);
    expect([...upgradeParameterNames('lenet', old)]).toEqual([
      ['block1.0.weight', 1],
      ['classifier1.weight', 2],
      ['fc.bias', 3],
    ]);
    const current = new Map([['fc.bias', 1]]);
    expect(upgradeParameterNames('lenet', current)).toBe(current);
    expect(upgradeParameterNames('resnet18_32x32', old)).toBe(old);
  });
});
