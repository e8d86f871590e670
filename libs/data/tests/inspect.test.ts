import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Rng, silentLogger } from '@oodkit/core';
import { MemoryDataset } from '../src/datasets/base.js';
import { encodeIdx } from '../src/formats/idx.js';
import { datasetInfo, formatInfo } from '../src/inspect/info.js';
import { openTarget } from '../src/inspect/open-target.js';
import { previewGrid } from '../src/inspect/preview.js';
import { registry, withTempDir } from './helpers.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sio-numpy');
const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };

describe('data info / preview', () => {
  it('datasetInfo: histogram with OOD, exact pixel statistics', async () => {
    const ds = new MemoryDataset('t', Uint8Array.from([0, 10, 20, 30, 40, 50, 60, 255]), [2, 2, 1], 3, Int32Array.from([2, -1]));
    const info = await datasetInfo(ds, { chunk: 1 });
    expect(info.classHistogram).toEqual({ '-1': 1, '2': 1 });
    const values = [0, 10, 20, 30, 40, 50, 60, 255];
    const mean = values.reduce((a, b) => a + b) / 8;
    expect(info.pixels.min).toBe(0);
    expect(info.pixels.max).toBe(255);
    expect(info.pixels.mean).toBeCloseTo(mean, 10);
    expect(info.pixels.std).toBeCloseTo(Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / 8), 8);
    expect(formatInfo(info)).toMatch(/histogram {2}ood:1 2:1/);
    const sampled = await datasetInfo(ds, { sample: 1 });
    expect(sampled.pixels.scanned).toBe(1);
    expect(sampled.pixels.max).toBe(30);
  });

  it('previewGrid places each (upscaled) image in its cell', async () => {
    const ds = new MemoryDataset(
      't',
      Uint8Array.from([10, 10, 10, 10, 200, 200, 200, 200, 90, 90, 90, 90]),
      [2, 2, 1],
      3,
      Int32Array.from([0, 1, 2]),
    );
    const png = await previewGrid(ds, [1, 0, 2], { cols: 2, scale: 2, gap: 1 });
    expect((await sharp(png).metadata()).channels).toBe(1);
    const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([2 * 5 + 1, 2 * 5 + 1]);
    const at = (x: number, y: number) => data[y * info.width + x];
    expect([at(1, 1), at(4, 4), at(6, 1), at(9, 4), at(1, 6), at(0, 0), at(6, 6)]).toEqual([200, 200, 10, 10, 90, 32, 32]);
  });

  it('openTarget understands npy pairs, idx pairs, dataset YAML, registered names and benchmark sets', async () => {
    const npy = await openTarget(join(fixtures, 'images.npy'), {}, registry, ctx);
    expect(npy[0].dataset.length).toBe(4);
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'train-images-idx3-ubyte'), encodeIdx([2, 2, 2], new Uint8Array(8)));
      await writeFile(join(dir, 'train-labels-idx1-ubyte'), encodeIdx([2], Uint8Array.from([1, 0])));
      expect([...(await openTarget(join(dir, 'train-images-idx3-ubyte'), {}, registry, ctx))[0].dataset.labels]).toEqual([1, 0]);
      await writeFile(join(dir, 'ds.yml'), 'dataset: { name: generated, args: { kind: stripes, count: 7 } }\n');
      expect((await openTarget(join(dir, 'ds.yml'), {}, registry, ctx))[0].dataset.length).toBe(7);
      await writeFile(join(dir, 'list.txt'), 'a.png 0\n');
      await expect(openTarget(join(dir, 'list.txt'), {}, registry, ctx)).rejects.toThrow(/needs --num-classes/);
      await writeFile(join(dir, 'lonely.npy'), '');
      await expect(openTarget(join(dir, 'lonely.npy'), {}, registry, ctx)).rejects.toThrow(/cannot guess the labels file; give --labels/);
    });
    expect((await openTarget(undefined, { dataset: 'generated', args: '{kind: perlin, count: 3}' }, registry, ctx))[0].dataset.length).toBe(
      3,
    );
    const far = await openTarget('mnist', { set: 'far' }, registry, ctx);
    expect(far.map((s) => s.name)).toEqual([
      'far.gaussian_noise',
      'far.uniform_noise',
      'far.stripes',
      'far.checkerboard',
      'far.perlin_noise',
    ]);
    await expect(openTarget('mnist', { set: 'nope' }, registry, ctx)).rejects.toThrow(/has no set 'nope'; sets: id\.train, id\.val/);
    await expect(openTarget('no-such-thing', {}, registry, ctx)).rejects.toThrow(/not a file oodkit can read/);
  });
});
