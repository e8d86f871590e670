import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Rng, createOodkitContainer, registryOf, silentLogger, type Batch, type Classifier, type Postprocessor } from '@oodkit/core';
import { initCompute, tf } from '@oodkit/compute';
import { networksModule } from '@oodkit/networks';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { NetworkSource, evaluateOod, featureSplitsSchema } from '@oodkit/evaluators';

vi.setConfig({ testTimeout: 60_000 });

/** The stage-reading methods on a real (randomly initialised) CIFAR ResNet-18, through NetworkSource. */
describe('rankfeat, gram and nac stage layers on resnet18_32x32 (16×16 inputs, 2 classes)', () => {
  const registry = registryOf(createOodkitContainer([networksModule, postprocessorsModule]));
  const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };
  let network: Classifier;
  // ID: 2 classes × 10 train rows (gram holds out one per class); OOD: shifted noise
  const sizes: Record<string, number> = { train: 20, val: 4, test: 4, ood_val: 4, far: 4 };
  function* loader(name: string): Generator<Batch> {
    const n = sizes[name]!;
    const rng = Rng.fromSeed(name.length * 7 + n);
    const shift = name === 'far' || name === 'ood_val' ? 1.5 : 0;
    for (let s = 0; s < n; s += 5) {
      const m = Math.min(5, n - s);
      const x = Float32Array.from({ length: m * 16 * 16 * 3 }, () => rng.normal() * 0.5 + shift);
      yield {
        x: tf.tensor4d(x, [m, 16, 16, 3]),
        y: tf.tensor1d(
          Array.from({ length: m }, (_, i) => (s + i) % 2),
          'int32',
        ),
        indices: Int32Array.from({ length: m }, (_, i) => s + i),
      };
    }
  }

  beforeAll(async () => {
    await initCompute({ backend: 'wasm' });
    network = await registry.build<Classifier>('network', { name: 'resnet18_32x32', args: { num_classes: 2, image_size: 16 } }, ctx);
  });

  it.each([
    ['rankfeat', {}],
    ['rankfeat', { accelerate: true }],
    ['gram', { powers: [1, 2] }],
    ['nac', { layers: ['avgpool', 'layer3'], valid_num: 20 }],
  ])('%s %j scores every split with finite values and no leaked tensors', async (name, args) => {
    const source = new NetworkSource(
      network,
      featureSplitsSchema.parse({ train: 'train', val: 'val', test: 'test', ood_val: 'ood_val', far: ['far'] }),
      loader,
    );
    const pp = await registry.build<Postprocessor>('postprocessor', { name, args }, ctx);
    expect(pp.needsNetwork).toBe(true);
    const before = tf.memory().numTensors;
    const result = await evaluateOod({ postprocessor: pp, source });
    for (const s of result.scores) expect(Array.from(s.conf).every(Number.isFinite), `${name} ${s.name}`).toBe(true);
    pp.dispose?.();
    expect(tf.memory().numTensors).toBe(before);
  });
});
