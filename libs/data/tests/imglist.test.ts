import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@oodkit/core';
import { ImglistDataset, shorterSideSize } from '../src/datasets/imglist.js';
import { build, range, withTempDir } from './helpers.js';

/** An RGB test image whose pixel (y, x) is (6x, 6y, k) — positions are recoverable after decode. */
async function png(path: string, w: number, h: number, k: number, channels: 1 | 3 = 3): Promise<Uint8Array> {
  const data = Uint8Array.from(range(w * h * channels), (i) => {
    const p = Math.floor(i / channels);
    const ch = i % channels;
    return channels === 1 ? (p * 3 + k) % 256 : [6 * (p % w), 6 * Math.floor(p / w), k][ch];
  });
  await sharp(data, { raw: { width: w, height: h, channels } })
    .png()
    .toFile(path);
  return data;
}

describe('imglist dataset', () => {
  it('decodes PNGs listed relative to the root, in request order, with labels and -1 OOD', async () => {
    await withTempDir(async (dir) => {
      await mkdir(join(dir, 'images', 'a b'), { recursive: true });
      const a = await png(join(dir, 'images', 'a b', 'x 1.png'), 4, 3, 1);
      const b = await png(join(dir, 'images', 'y.png'), 4, 3, 2);
      await writeFile(join(dir, 'list.txt'), 'a b/x 1.png 2\n\ny.png -1\n');
      const ds = await build('imglist', { root: 'images', list: 'list.txt', num_classes: 3 }, { data_dir: dir });
      expect(ds.length).toBe(2);
      expect(ds.imageShape).toEqual([3, 4, 3]);
      expect([...ds.labels]).toEqual([2, -1]);
      expect(await ds.readImages([1, 0])).toEqual(Uint8Array.from([...b, ...a]));
    });
  });

  it('resizes at decode like Resize(pre_size) + CenterCrop(image_size), and converts channels', async () => {
    expect(shorterSideSize(40, 20, 10)).toEqual([20, 10]);
    expect(shorterSideSize(20, 30, 8)).toEqual([8, 12]);
    await withTempDir(async (dir) => {
      await png(join(dir, 'wide.png'), 40, 20, 5);
      await png(join(dir, 'gray.png'), 10, 10, 0, 1);
      await writeFile(join(dir, 'l.txt'), 'wide.png 0\ngray.png 1\n');
      const ds = await ImglistDataset.open({
        list: join(dir, 'l.txt'),
        root: dir,
        numClasses: 2,
        imageSize: 8,
        preSize: 10,
        channels: 3,
        missing: 'fail',
      });
      expect(ds.imageShape).toEqual([8, 8, 3]);
      const px = await ds.readImages([0, 1]);
      expect(px.length).toBe(2 * 8 * 8 * 3);
      // wide 40×20 → 20×10 → centre 8×8 at left 6, top 1; R = 6·(source x), source x ≈ 2·(6 + x) + 0.5
      const rAt = (x: number) => px[(1 * 8 + x) * 3];
      expect(Math.abs(rAt(0) - 6 * 12.5)).toBeLessThan(8);
      expect(Math.abs(rAt(7) - 6 * 26.5)).toBeLessThan(8);
      expect(px[2]).toBe(5); // blue channel constant
      // grayscale source → three equal channels
      const g = px.subarray(192);
      expect(g[0]).toBe(g[1]);
      expect(g[1]).toBe(g[2]);
      const gray = await ImglistDataset.open({
        list: join(dir, 'l.txt'),
        root: dir,
        numClasses: 2,
        imageSize: 8,
        channels: 1,
        missing: 'fail',
      });
      expect((await gray.readImages([1])).length).toBe(64);
    });
  });

  it('memory cache: an image is decoded once, later reads come from memory', async () => {
    await withTempDir(async (dir) => {
      const a = await png(join(dir, 'a.png'), 3, 3, 9);
      await writeFile(join(dir, 'l.txt'), 'a.png 0\n');
      const cached = await ImglistDataset.open({
        list: join(dir, 'l.txt'),
        root: dir,
        numClasses: 1,
        channels: 3,
        missing: 'fail',
        cache: 'memory',
      });
      const plain = await ImglistDataset.open({ list: join(dir, 'l.txt'), root: dir, numClasses: 1, channels: 3, missing: 'fail' });
      expect(await cached.readImages([0])).toEqual(a);
      await rm(join(dir, 'a.png'));
      expect(await cached.readImages([0, 0])).toEqual(Uint8Array.from([...a, ...a]));
      await expect(plain.readImages([0])).rejects.toThrow(/l\.txt:1: 'a\.png': cannot decode image/);
    });
  });

  it('decodes identically in worker_threads, and names the failing line from a worker', async () => {
    await withTempDir(async (dir) => {
      const lines: string[] = [];
      for (let i = 0; i < 12; i++) {
        await png(join(dir, `${i}.png`), 40, 20, i * 7);
        lines.push(`${i}.png ${i % 2}`);
      }
      await writeFile(join(dir, 'broken.png'), Buffer.from('not a png'));
      await writeFile(join(dir, 'l.txt'), `${lines.join('\n')}\nbroken.png 0\n`);
      const options = {
        list: join(dir, 'l.txt'),
        root: dir,
        numClasses: 2,
        imageSize: 8,
        preSize: 10,
        channels: 3 as const,
        missing: 'fail' as const,
      };
      const local = await ImglistDataset.open(options);
      const pooled = await ImglistDataset.open({ ...options, workers: 2, cache: 'memory' });
      try {
        const order = [11, 3, 0, 7, 5, 1, 2, 4, 6, 8, 9, 10];
        expect(await pooled.readImages(order)).toEqual(await local.readImages(order));
        expect(await pooled.readImages([3, 11])).toEqual(await local.readImages([3, 11])); // from the memory cache
        await expect(pooled.readImages([0, 12, 1])).rejects.toThrow(/l\.txt:13: 'broken\.png': cannot decode image/);
      } finally {
        await pooled.close();
      }
    });
  });

  it('missing images: fail naming the line, or skip and report the count', async () => {
    await withTempDir(async (dir) => {
      await png(join(dir, 'ok.png'), 2, 2, 0);
      await writeFile(join(dir, 'l.txt'), 'ok.png 0\ngone.png 1\nalso-gone.png 1\n');
      await expect(
        ImglistDataset.open({ list: join(dir, 'l.txt'), root: dir, numClasses: 2, channels: 3, missing: 'fail' }),
      ).rejects.toThrow(/l\.txt:2: image 'gone\.png' not found under .* \(and 1 more missing; set missing: skip/);
      const lines: string[] = [];
      const ds = await ImglistDataset.open({
        list: join(dir, 'l.txt'),
        root: dir,
        numClasses: 2,
        channels: 3,
        missing: 'skip',
        logger: createLogger('warn', '', (l) => lines.push(l)),
      });
      expect(ds.length).toBe(1);
      expect(ds.skipped.map((e) => e.line)).toEqual([2, 3]);
      expect(lines.join('\n')).toMatch(/skipped 2 missing image\(s\), e\.g\. line 2 'gone\.png'/);
    });
  });

  it('refuses paths escaping the root, bad labels and undecodable files, naming file and line', async () => {
    await withTempDir(async (dir) => {
      await mkdir(join(dir, 'root'));
      await png(join(dir, 'outside.png'), 2, 2, 0);
      await png(join(dir, 'root', 'in.png'), 2, 2, 0);
      await png(join(dir, 'root', 'big.png'), 3, 2, 0);
      await writeFile(join(dir, 'root', 'broken.png'), Buffer.from('not a png at all'));
      const cases: [string, RegExp][] = [
        ['in.png 0\n../outside.png 0\n', /l\.txt:2: path '\.\.\/outside\.png' escapes the data root/],
        ['sub/../in.png 0\n', /l\.txt:1: path 'sub\/\.\.\/in\.png' escapes the data root .* \('\.\.' is not allowed\)/],
        [`${join(dir, 'outside.png')} 0\n`, /l\.txt:1: absolute path .* refused/],
        ['in.png 7\n', /l\.txt:1: label 7 is outside \[0, 2\) and is not -1/],
        ['in.png x\n', /l\.txt:1: label 'x' is not an integer/],
        ['in.png\n', /l\.txt:1: expected '<path> <label>'/],
        ['', /l\.txt: the image list is empty/],
      ];
      for (const [text, pattern] of cases) {
        await writeFile(join(dir, 'l.txt'), text);
        await expect(
          ImglistDataset.open({ list: join(dir, 'l.txt'), root: join(dir, 'root'), numClasses: 2, channels: 3, missing: 'fail' }),
        ).rejects.toThrow(pattern);
      }
      await writeFile(join(dir, 'l.txt'), 'in.png 0\nbroken.png 1\nbig.png 1\n');
      const ds = await ImglistDataset.open({
        list: join(dir, 'l.txt'),
        root: join(dir, 'root'),
        numClasses: 2,
        channels: 3,
        missing: 'fail',
      });
      await expect(ds.readImages([1])).rejects.toThrow(/l\.txt:2: 'broken\.png': cannot decode image/);
      await expect(ds.readImages([2])).rejects.toThrow(/l\.txt:3: 'big\.png': image is 3×2, the dataset's images are 2×2; set image_size/);
    });
  });
});
