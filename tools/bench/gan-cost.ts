/**
 * Training and sampling cost of the cgan generator against LeNet base training, side by side in one
 * process on random 28×28 data (not CI). Each argument is <width>x<batch>:
 *   npx tsx tools/bench/gan-cost.ts 16x64 32x64
 */
import { initCompute, tf } from '@oodkit/compute';
import { Rng, silentLogger, createLogger, createOodkitContainer, registryOf, type Classifier, type Trainer } from '@oodkit/core';
import { ConditionalGan, cganArgs } from '@oodkit/sio';
import { networksModule } from '@oodkit/networks';
import { trainersModule } from '@oodkit/trainers';
import os from 'node:os';
await initCompute({ backend: 'wasm', logger: createLogger('info', 't') });
const registry = registryOf(createOodkitContainer([networksModule, trainersModule]));
const n = 1280;
const pixels = new Uint8Array(n * 784);
for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) % 256;
const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
const data = {
  name: 'x',
  length: n,
  imageShape: [28, 28, 1] as const,
  numClasses: 10,
  labels,
  readImages: async (idx: ArrayLike<number>) => {
    const o = new Uint8Array(idx.length * 784);
    for (let i = 0; i < idx.length; i++) o.set(pixels.subarray(idx[i] * 784, idx[i] * 784 + 784), i * 784);
    return o;
  },
};
async function lenet(): Promise<number> {
  const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };
  const net = await registry.build<Classifier>('network', 'lenet', ctx);
  const tr = await registry.build<Trainer>('trainer', 'base', ctx);
  tr.init(net, { epochs: 1, stepsPerEpoch: 100 });
  const x = tf.randomNormal([128, 28, 28, 1]) as tf.Tensor4D;
  const y = tf.tensor1d(
    Int32Array.from({ length: 128 }, (_, i) => i % 10),
    'int32',
  );
  for (let i = 0; i < 3; i++) await tr.step({ x, y, indices: new Int32Array(128) });
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) await tr.step({ x, y, indices: new Int32Array(128) });
  const r = (20 * 128) / ((performance.now() - t0) / 1000);
  tf.dispose([x, y]);
  net.dispose();
  return r;
}
for (const spec of process.argv.slice(2)) {
  const [width, bs] = spec.split('x').map(Number);
  const l1 = await lenet();
  const gan = new ConditionalGan(cganArgs.parse({ width, batch_size: bs, epochs: 2 }));
  let t0 = 0;
  let count = 0;
  await gan.fit(data, {
    logger: silentLogger,
    onProgress: (p) => {
      if (p.epoch === 1 && p.step === 0) t0 = performance.now();
      if (p.epoch === 1) count += bs;
    },
  });
  const secs = (performance.now() - t0) / 1000;
  const s0 = performance.now();
  await gan.sample(
    new Int32Array(2000).map((_, i) => i % 10),
    Rng.fromSeed(0),
  );
  const ss = (performance.now() - s0) / 1000;
  gan.dispose();
  const l2 = await lenet();
  console.log(
    `cgan width ${width} batch ${bs}: ${(count / secs).toFixed(0)} train images/s, sampling ${(2000 / ss).toFixed(0)} images/s; lenet base train ${l1.toFixed(0)} / ${l2.toFixed(0)} images/s (before/after); load ${os
      .loadavg()
      .map((v) => v.toFixed(1))
      .join(' ')}`,
  );
}
