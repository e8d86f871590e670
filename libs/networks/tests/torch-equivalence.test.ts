import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { readSafetensors, toFloat32, writeSafetensors } from '@oodkit/core';
import { loadTorchCheckpoint, type TrunkClassifier } from '../src/index.js';
import { build } from './helpers.js';
import { fixtureDir, generatedInput, referenceCase, toNhwc } from './torch-reference.js';

// OpenOOD's networks against PyTorch on the same weights and input (fixtures/torch/make_fixtures.py).
vi.setConfig({ testTimeout: 120_000 });

beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

const tmp = mkdtempSync(join(tmpdir(), 'oodkit-nets-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function maxAbs(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const CASES = [
  { fixture: 'lenet', network: 'lenet', args: { in_channels: 3 } },
  { fixture: 'resnet18_32x32', network: 'resnet18_32x32', args: {} },
  { fixture: 'resnet18_64x64', network: 'resnet18_64x64', args: {} },
  { fixture: 'resnet18_64x64_at72', network: 'resnet18_64x64', args: { image_size: 72 } },
  { fixture: 'resnet18_224x224', network: 'resnet18_224x224', args: { image_size: 64 } },
  { fixture: 'resnet50', network: 'resnet50', args: { image_size: 64 } },
] as const;

describe('networks equal PyTorch on the same weights and input', () => {
  for (const c of CASES) {
    it(`${c.fixture}: state_dict names and order, logits and features to 1e-4`, async () => {
      const ref = await referenceCase(c.fixture);
      // the whole state_dict as a file, loaded through the network's `checkpoint` arg (strict)
      const file = join(tmp, `${c.fixture}.safetensors`);
      await writeSafetensors(file, ref.stateDict);
      const net = (await build(c.network, { ...c.args, num_classes: ref.logits.shape[1], checkpoint: file })) as TrunkClassifier;
      // the same state_dict keys in PyTorch's order, with PyTorch's shapes
      expect(net.torchState().map((e) => e.name)).toEqual(ref.keys);
      for (const e of net.torchState()) expect(e.torchShape, e.name).toEqual(ref.stateDict.get(e.name)!.shape);
      const [n, ch, h, w] = ref.inputShape;
      const x = tf.tensor4d(toNhwc(generatedInput(ref.inputShape), ref.inputShape), [n, h, w, ch]);
      const { logits, features } = net.forwardFeatures(x);
      const gotLogits = logits.dataSync() as Float32Array;
      const gotFeatures = features.dataSync() as Float32Array;
      const wantLogits = toFloat32(ref.logits);
      expect(maxAbs(gotLogits, wantLogits)).toBeLessThan(1e-4);
      expect(maxAbs(gotFeatures, toFloat32(ref.features))).toBeLessThan(1e-4);
      // not trivially small: the logits vary by O(1)
      expect(Math.max(...wantLogits) - Math.min(...wantLogits)).toBeGreaterThan(1);
      tf.dispose([x, logits, features]);
      net.dispose();
    });
  }

  it('resnet18_64x64 pools like AvgPool2d(8), not globally: a 9×9 last map averages its top-left 8×8', async () => {
    const ref = await referenceCase('resnet18_64x64_at72');
    const file = join(tmp, 'at72.safetensors');
    await writeSafetensors(file, ref.stateDict);
    const x = tf.tensor4d(toNhwc(generatedInput(ref.inputShape), ref.inputShape), [2, 72, 72, 3]);
    const want = toFloat32(ref.logits);
    // the same weights in the global-pool net (resnet18_32x32 has the same layers and names) do not fit
    for (const [network, fits] of [
      ['resnet18_64x64', true],
      ['resnet18_32x32', false],
    ] as const) {
      const net = await build(network, { image_size: 72, num_classes: 200, checkpoint: file });
      const logits = net.forward(x);
      const err = maxAbs(logits.dataSync() as Float32Array, want);
      if (fits) expect(err).toBeLessThan(1e-4);
      else expect(err).toBeGreaterThan(1e-2);
      logits.dispose();
      net.dispose();
    }
    x.dispose();
    await expect(build('resnet18_64x64', { image_size: 56 })).rejects.toThrow(/image_size/);
  });
});

describe('OpenOOD LeNet checkpoints written by torch.save', () => {
  async function io() {
    const { tensors } = await readSafetensors(`${fixtureDir}lenet_rgb_io.safetensors`);
    const get = (k: string) => toFloat32(tensors.get(k)!);
    return {
      x: get('x'),
      logits: get('logits'),
      features: get('features'),
      halfLogits: get('half_logits'),
      halfFeatures: get('half_features'),
    };
  }

  for (const [file, half, format, key, prefix] of [
    ['lenet_rgb.pth', false, 'torch-zip', '', ''],
    ['lenet_rgb_legacy.pth', false, 'torch-legacy', '', ''],
    ['lenet_rgb_dataparallel.pth', true, 'torch-zip', '', 'module.'],
    ['lenet_rgb_wrapped.pth', true, 'torch-zip', 'net', ''],
    ['lenet_rgb_half.safetensors', true, 'safetensors', '', ''],
  ] as const) {
    it(`${file}: loads strictly and gives PyTorch's logits and features`, async () => {
      const ref = await io();
      const net = await build('lenet', { in_channels: 3 });
      const report = await loadTorchCheckpoint(net as TrunkClassifier, `${fixtureDir}${file}`);
      expect(report.format).toBe(format);
      expect(report.key).toBe(key);
      expect(report.strippedPrefix).toBe(prefix);
      expect(report.loaded).toHaveLength(10);
      expect(report.converted).toEqual(half ? { float16: 10 } : {});
      const x = tf.tensor4d(toNhwc(ref.x, [2, 3, 28, 28]), [2, 28, 28, 3]);
      const { logits, features } = net.forwardFeatures(x);
      expect(maxAbs(logits.dataSync() as Float32Array, half ? ref.halfLogits : ref.logits)).toBeLessThan(1e-5);
      expect(maxAbs(features.dataSync() as Float32Array, half ? ref.halfFeatures : ref.features)).toBeLessThan(1e-5);
      tf.dispose([x, logits, features]);
      net.dispose();
    });
  }

  it('a 3-channel checkpoint into the 1-channel default LeNet says which arg to set', async () => {
    const net = await build('lenet');
    await expect(loadTorchCheckpoint(net as TrunkClassifier, `${fixtureDir}lenet_rgb.pth`)).rejects.toThrow(
      /size mismatch for block1\.0\.weight: \[6, 3, 5, 5\] in the checkpoint, \[6, 1, 5, 5\] in the network \(the checkpoint has in_channels 3: set network\.args\.in_channels: 3\)/,
    );
    net.dispose();
  });
});
