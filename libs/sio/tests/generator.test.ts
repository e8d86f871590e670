import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, silentLogger, ComponentRegistry, componentModule } from '@oodkit/core';
import { Container } from 'inversify';
import { MemoryDataset } from '@oodkit/data';
import {
  ConditionalVae,
  PerClassVae,
  cvaeArgs,
  datasetFingerprint,
  generateSynthetic,
  sioDefinitions,
  stableStringify,
} from '../src/index.js';

let root: string;
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'oodkit-gen-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Two classes of 4×4 images: class 0 bright top half, class 1 bright bottom half. */
function halves(count: number, seed = 1): MemoryDataset {
  const rng = Rng.fromSeed(seed);
  const pixels = new Uint8Array(count * 16);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 2;
    for (let p = 0; p < 16; p++) {
      const top = p < 8;
      const on = labels[i] === 0 ? top : !top;
      pixels[i * 16 + p] = on ? 220 + rng.int(0, 35) : rng.int(0, 30);
    }
  }
  return new MemoryDataset('halves', pixels, [4, 4, 1], 2, labels);
}

function registry(): ComponentRegistry {
  const container = new Container();
  container.load(componentModule('@oodkit/sio', sioDefinitions));
  container.bind(ComponentRegistry).toSelf();
  return container.get(ComponentRegistry);
}

describe('cvae generator', () => {
  it('negative ELBO matches a hand computation', () => {
    // x = [1, 0], logits = [0, ln 3]: BCE = ln 2 + ln 4; mu = [1], logvar = [0]: KL = -0.5(1 + 0 - 1 - 1) = 0.5
    const v = ConditionalVae.negativeElbo(tf.tensor2d([[1, 0]]), tf.tensor2d([[0, Math.log(3)]]), tf.tensor2d([[1]]), tf.tensor2d([[0]]));
    expect(v.dataSync()[0]).toBeCloseTo(Math.log(2) + Math.log(4) + 0.5, 5);
    v.dispose();
  });

  it('learns class-conditional images: samples of class c look like class c', async () => {
    const data = halves(200);
    const gen = new ConditionalVae(cvaeArgs.parse({ hidden: 32, latent: 2, epochs: 25, batch_size: 20, lr: 0.01 }));
    const losses: number[] = [];
    const before = tf.memory().numTensors;
    await gen.fit(data, { logger: silentLogger, onProgress: (p) => losses.push(p.loss) });
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.6);
    const labels = new Int32Array([0, 1, 0, 1, 0, 1]);
    const px = await gen.sample(labels, Rng.fromSeed(4));
    expect(px).toBeInstanceOf(Uint8Array);
    expect(px.length).toBe(6 * 16);
    for (let i = 0; i < 6; i++) {
      const img = px.subarray(i * 16, (i + 1) * 16);
      const top = img.subarray(0, 8).reduce((a, b) => a + b, 0) / 8;
      const bottom = img.subarray(8).reduce((a, b) => a + b, 0) / 8;
      if (labels[i] === 0) expect(top - bottom).toBeGreaterThan(100);
      else expect(bottom - top).toBeGreaterThan(100);
    }
    // same rng → same samples
    expect(Array.from(await gen.sample(labels, Rng.fromSeed(4)))).toEqual(Array.from(px));
    gen.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('cvae per_class (default)', () => {
  it('fits one model per class and returns each requested class in place', async () => {
    const data = halves(120);
    const gen = new PerClassVae(cvaeArgs.parse({ hidden: 16, latent: 2, epochs: 15, batch_size: 20, lr: 0.01 }));
    const steps: number[] = [];
    await gen.fit(data, { logger: silentLogger, onProgress: (p) => steps.push(p.step) });
    // 2 classes × 60 images / 20 per batch × 15 epochs, numbered consecutively across the classes
    expect(steps).toEqual(Array.from({ length: 90 }, (_, i) => i));
    const labels = new Int32Array([1, 0, 1, 1, 0]);
    const px = await gen.sample(labels, Rng.fromSeed(2));
    for (let i = 0; i < labels.length; i++) {
      const img = px.subarray(i * 16, (i + 1) * 16);
      const top = img.subarray(0, 8).reduce((a, b) => a + b, 0) / 8;
      const bottom = img.subarray(8).reduce((a, b) => a + b, 0) / 8;
      expect(labels[i] === 0 ? top - bottom : bottom - top).toBeGreaterThan(100);
      expect(Math.max(...img)).toBe(255); // contrast stretch (default)
    }
    gen.dispose();
  });
});

describe('generateSynthetic (cache)', () => {
  it('trains once, writes the SIO npy pair, then serves it from the cache keyed by settings and data', async () => {
    const data = halves(60);
    const reg = registry();
    const ctx = { registry: reg, logger: silentLogger, config: {} };
    const generator = { name: 'cvae', args: { hidden: 8, latent: 2, epochs: 2, batch_size: 20 } };
    const first = await generateSynthetic({ generator, count: 10, real: data, cacheRoot: root, ctx });
    expect(first.cached).toBe(false);
    expect(existsSync(first.imagesPath) && existsSync(first.labelsPath)).toBe(true);
    expect(Array.from(first.dataset.labels)).toEqual([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    const second = await generateSynthetic({ generator, count: 10, real: data, cacheRoot: root, ctx });
    expect(second.cached).toBe(true);
    expect(second.cacheKey).toBe(first.cacheKey);
    const all = Int32Array.from({ length: 10 }, (_, i) => i);
    expect(Array.from(await second.dataset.readImages(all))).toEqual(Array.from(await first.dataset.readImages(all)));
    const otherCount = await generateSynthetic({ generator, count: 12, real: data, cacheRoot: root, ctx });
    expect(otherCount.cacheKey).not.toBe(first.cacheKey);
    const otherData = await generateSynthetic({ generator, count: 10, real: halves(60, 2), cacheRoot: root, ctx });
    expect(otherData.cacheKey).not.toBe(first.cacheKey);
    await expect(generateSynthetic({ generator: { name: 'cvea' }, count: 1, real: data, cacheRoot: root, ctx })).rejects.toThrow(
      /unknown generator 'cvea'.*did you mean 'cvae'/,
    );
  });

  it('fingerprint and stable stringify are order-insensitive but content-sensitive', async () => {
    expect(stableStringify({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe(stableStringify({ a: [1, { c: 3, d: 2 }], b: 1 }));
    expect(await datasetFingerprint(halves(10))).toBe(await datasetFingerprint(halves(10)));
    expect(await datasetFingerprint(halves(10))).not.toBe(await datasetFingerprint(halves(10, 3)));
  });
});
