/**
 * Cross-check against PyTorch (a tool, not a test: PyTorch is never a dependency).
 * Writes each network's initial weights, an input batch, the eval logits, the losses of two `base`
 * trainer steps and every variable afterwards; torch_crosscheck.py replays the same in PyTorch.
 *   npx tsx libs/trainers/tools/torch-crosscheck.ts /tmp/oodkit-xcheck
 *   /usr/bin/python3 libs/trainers/tools/torch_crosscheck.py /tmp/oodkit-xcheck
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, createOodkitContainer, registryOf, silentLogger, type Classifier, type Trainer } from '@oodkit/core';
import { networksModule } from '@oodkit/networks';
import { trainersModule } from '../src/index.js';

const outDir = process.argv[2] ?? '/tmp/oodkit-xcheck';
const registry = registryOf(createOodkitContainer([networksModule, trainersModule]));
const cases = [
  { net: 'lenet', args: {}, shape: [28, 28, 1], classes: 10 },
  { net: 'resnet18_32x32', args: { image_size: 16 }, shape: [16, 16, 3], classes: 10 },
  { net: 'resnet18_224x224', args: { image_size: 64, dropout: 0, num_classes: 10 }, shape: [64, 64, 3], classes: 10 },
] as const;

function dump(dir: string, tensors: Record<string, tf.Tensor>): Record<string, { shape: number[]; file: string }> {
  mkdirSync(dir, { recursive: true });
  const manifest: Record<string, { shape: number[]; file: string }> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const file = `${name}.bin`;
    writeFileSync(path.join(dir, file), Buffer.from((t.dataSync() as Float32Array).slice().buffer));
    manifest[name] = { shape: t.shape, file };
  }
  return manifest;
}

await initCompute({ backend: (process.env.OODKIT_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm' });
const summary: Record<string, unknown> = {};
for (const c of cases) {
  const ctx = { logger: silentLogger, rng: Rng.fromSeed(11).derive(c.net), config: {} };
  const net = await registry.build<Classifier>('network', { name: c.net, args: c.args }, ctx);
  const n = 4;
  const x = tf.randomNormal([n, ...c.shape], 0, 1, 'float32', 5) as tf.Tensor4D;
  const y = tf.tensor1d(
    Array.from({ length: n }, (_, i) => (3 * i + 1) % c.classes),
    'int32',
  );
  const dir = path.join(outDir, c.net);
  const before = dump(path.join(dir, 'before'), Object.fromEntries(net.namedVariables()));
  const evalLogits = net.forward(x);
  const trainer = await registry.build<Trainer>('trainer', 'base', ctx);
  trainer.init(net, { epochs: 1, stepsPerEpoch: 4 });
  const losses = [
    (await trainer.step({ x, y, indices: new Int32Array(n) })).loss,
    (await trainer.step({ x, y, indices: new Int32Array(n) })).loss,
  ];
  const after = dump(path.join(dir, 'after'), Object.fromEntries(net.namedVariables()));
  const evalAfter = net.forward(x);
  const io = dump(path.join(dir, 'io'), { x, eval_logits: evalLogits, eval_after: evalAfter });
  writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify({ net: c.net, args: c.args, labels: Array.from(y.dataSync()), losses, before, after, io, lr: 0.1, total_steps: 4 }),
  );
  summary[c.net] = losses;
  net.dispose();
}
console.log(JSON.stringify(summary));
