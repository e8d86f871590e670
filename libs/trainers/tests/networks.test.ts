import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, createOodkitContainer, registryOf, silentLogger, type Batch, type Classifier, type Trainer } from '@oodkit/core';
import { networksModule } from '@oodkit/networks';
import { trainersModule } from '../src/index.js';

// Real networks through the registry, trained on the wasm backend (oodkit's training kernels).
vi.setConfig({ testTimeout: 60_000 });
beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

const registry = registryOf(createOodkitContainer([networksModule, trainersModule]));
const ctx = (seed: number, stream: string) => ({ logger: silentLogger, rng: Rng.fromSeed(seed).derive(stream), config: {} });

function randomBatch(n: number, shape: [number, number, number], classes: number, seed: number): Batch {
  const rng = Rng.fromSeed(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  // Class-dependent mean so the batch is learnable.
  const x = tf.tidy(() =>
    tf.add(
      tf.randomNormal([n, ...shape], 0, 1, 'float32', rng.nextSeed()),
      tf.reshape(tf.mul(tf.tensor1d(labels, 'float32'), 0.5), [n, 1, 1, 1]),
    ),
  );
  return { x: x as tf.Tensor4D, y: tf.tensor1d(labels, 'int32'), indices: Int32Array.from(labels.keys()) };
}

async function run(network: Classifier, trainer: Trainer, batch: Batch, outliers: Batch | undefined, steps: number): Promise<number[]> {
  trainer.init(network, { epochs: 1, stepsPerEpoch: steps });
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push((await trainer.step(batch, outliers)).loss);
  return losses;
}

describe('training real networks on wasm', () => {
  it('base trains lenet: the loss falls over a few steps, no tensor growth', async () => {
    const net = await registry.build<Classifier>('network', 'lenet', ctx(0, 'network'));
    const trainer = await registry.build<Trainer>('trainer', 'base', ctx(0, 'trainer'));
    const batch = randomBatch(16, [28, 28, 1], 10, 1);
    const losses = await run(net, trainer, batch, undefined, 2);
    const count = tf.memory().numTensors;
    trainer.init(net, { epochs: 1, stepsPerEpoch: 8 });
    for (let i = 0; i < 8; i++) losses.push((await trainer.step(batch)).loss);
    expect(tf.memory().numTensors).toBe(count); // init() replaced the 10 momentum buffers; steps add nothing
    expect(losses.at(-1)!).toBeLessThan(losses[0] - 0.1);
    tf.dispose([batch.x, batch.y]);
    net.dispose();
  });

  it('oe trains resnet18_32x32 (batch norm in training mode over the joint batch) and updates running stats', async () => {
    const net = await registry.build<Classifier>(
      'network',
      { name: 'resnet18_32x32', args: { image_size: 8, num_classes: 4 } },
      ctx(0, 'network'),
    );
    const trainer = await registry.build<Trainer>('trainer', { name: 'oe', args: { lr: 0.01 } }, ctx(0, 'trainer'));
    const batch = randomBatch(4, [8, 8, 3], 4, 2);
    const outliers = randomBatch(4, [8, 8, 3], 4, 3);
    const runningMean = () => net.namedVariables().get('layer2.0.bn1.running_mean')!.dataSync()[0];
    const before = runningMean();
    const losses = await run(net, trainer, batch, outliers, 3);
    expect(runningMean()).not.toBe(before);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]);
    tf.dispose([batch.x, batch.y, outliers.x, outliers.y]);
    net.dispose();
  });

  it('vos trains lenet once its queues are full', async () => {
    const net = await registry.build<Classifier>('network', { name: 'lenet', args: { num_classes: 2 } }, ctx(1, 'network'));
    const trainer = await registry.build<Trainer>(
      'trainer',
      { name: 'vos', args: { lr: 0.05, sample_number: 4, sample_from: 100 } },
      ctx(1, 'trainer'),
    );
    const batch = randomBatch(8, [28, 28, 1], 2, 4);
    const losses = await run(net, trainer, batch, undefined, 6);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[1]);
    tf.dispose([batch.x, batch.y]);
    net.dispose();
  });
});
