import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, silentLogger } from '@oodkit/core';
import { MemoryDataset } from '@oodkit/data';
import { ConditionalGan, cganArgs } from '../src/index.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/** 28×28 two-class set: class 0 bright left half, class 1 bright right half. */
function halves(count: number): MemoryDataset {
  const pixels = new Uint8Array(count * 784);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 2);
  for (let i = 0; i < count; i++) for (let p = 0; p < 784; p++) pixels[i * 784 + p] = p % 28 < 14 === (labels[i] === 0) ? 230 : 10;
  return new MemoryDataset('halves', pixels, [28, 28, 1], 2, labels);
}

describe('cgan generator', () => {
  it('fits, samples uint8 28×28 images for the asked labels, and is deterministic for a seed; no tensor growth', async () => {
    const run = async () => {
      const gan = new ConditionalGan(cganArgs.parse({ width: 4, latent: 8, epochs: 1, batch_size: 8 }));
      await gan.fit(halves(16), { logger: silentLogger });
      const before = tf.memory().numTensors;
      const px = await gan.sample(Int32Array.from([0, 1, 1, 0, 1]), Rng.fromSeed(0).derive('sample'));
      expect(tf.memory().numTensors).toBe(before);
      gan.dispose();
      return px;
    };
    const a = await run();
    expect(a.length).toBe(5 * 784);
    expect(new Set(a).size).toBeGreaterThan(10);
    expect(Buffer.from(await run()).equals(Buffer.from(a))).toBe(true);
  });

  it('refuses images that are not 28×28×1', async () => {
    const gan = new ConditionalGan(cganArgs.parse({}));
    const rgb = new MemoryDataset('rgb', new Uint8Array(2 * 3072), [32, 32, 3], 2, Int32Array.from([0, 1]));
    await expect(gan.fit(rgb, { logger: silentLogger })).rejects.toThrow(/28×28 gray/);
  });
});
