import { describe, expect, it } from 'vitest';
import { Rng, silentLogger, type ImageDataset } from '@oodkit/core';
import { registry } from './helpers.js';

describe('fractals dataset', () => {
  it('is a pure function of (seed, index), OOD-labelled, non-empty images in any read order', async () => {
    const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };
    const build = (args: Record<string, unknown>) => registry.build<ImageDataset>('dataset', { name: 'fractals', args }, ctx);
    const a = await build({ count: 6, shape: [16, 16, 3], points: 2000 });
    const b = await build({ count: 6, shape: [16, 16, 3], points: 2000 });
    expect([...new Set(a.labels)]).toEqual([-1]);
    const all = await a.readImages([0, 1, 2, 3, 4, 5]);
    expect(Buffer.from(await b.readImages([4])).equals(Buffer.from(all.subarray(4 * 768, 5 * 768)))).toBe(true);
    for (let i = 0; i < 6; i++) {
      const img = all.subarray(i * 768, (i + 1) * 768);
      expect(Math.max(...img)).toBeGreaterThan(100); // the densest pixel is bright
      expect(img.filter((v) => v === 0).length).toBeGreaterThan(50); // an attractor, not a filled square
    }
    const other = await build({ count: 6, shape: [16, 16, 3], points: 2000, seed: 1 });
    expect(Buffer.from(await other.readImages([0])).equals(Buffer.from(all.subarray(0, 768)))).toBe(false);
  });
});
