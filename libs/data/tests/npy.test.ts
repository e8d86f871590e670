import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeNpy, writeNpy } from '@oodkit/core';
import { openNpyPair } from '../src/datasets/npy.js';
import { build, range, withTempDir } from './helpers.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sio-numpy');

/** Patches an encoded header in place (same length), e.g. to make big-endian or Fortran-order files. */
function patchHeader(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const text = Buffer.from(bytes).toString('latin1');
  if (from.length !== to.length || !text.includes(from)) throw new Error(`cannot patch ${from}`);
  return Buffer.from(text.replace(from, to), 'latin1');
}

describe('npy dataset (SIO synthetic format)', () => {
  it('loads a pair written by NumPy itself (uint8 (4,32,32,3), int64 labels)', async () => {
    // made with: img = ((np.arange(4*32*32*3).reshape(4,32,32,3)*7 + np.arange(4)[:,None,None,None]*50) % 256).astype(np.uint8);
    //            np.save('images.npy', img); np.save('labels.npy', np.array([3,0,9,5], dtype=np.int64))
    const ds = await build('npy', { images: join(fixtures, 'images.npy'), labels: join(fixtures, 'labels.npy') });
    expect(ds.length).toBe(4);
    expect(ds.imageShape).toEqual([32, 32, 3]);
    expect([...ds.labels]).toEqual([3, 0, 9, 5]);
    const img = await ds.readImages([1]);
    expect([...img.subarray((2 * 32 + 3) * 3, (2 * 32 + 3) * 3 + 3)]).toEqual([177, 184, 191]); // img[1, 2, 3]
    const all = await ds.readImages([3, 2, 0, 1]);
    const flat = (i: number, p: number) => ((i * 3072 + p) * 7 + i * 50) % 256;
    expect(all[0]).toBe(flat(3, 0));
    expect(all[3 * 3072 + 5]).toBe(flat(1, 5));
  });

  it('loads a pair from the core npy writer, any integer label dtype, lazily', async () => {
    await withTempDir(async (dir) => {
      const pixels = Uint8Array.from(range(6 * 32 * 32 * 3), (v) => v % 253);
      await writeNpy(join(dir, 'images.npy'), { data: pixels, shape: [6, 32, 32, 3] });
      await writeNpy(join(dir, 'labels.npy'), { data: BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 9n]) });
      const ds = await openNpyPair({ images: join(dir, 'images.npy'), labels: join(dir, 'labels.npy'), numClasses: 10 });
      expect([...ds.labels]).toEqual([0, 1, 2, 3, 4, 9]);
      expect(await ds.readImages([5, 1, 2])).toEqual(
        Uint8Array.from([...pixels.subarray(5 * 3072, 6 * 3072), ...pixels.subarray(3072, 3 * 3072)]),
      );
      await ds.close();
      // grayscale (N, H, W) and big-endian int32 / uint8 labels
      await writeNpy(join(dir, 'gray.npy'), { data: new Uint8Array(2 * 4 * 4), shape: [2, 4, 4] });
      await writeFile(
        join(dir, 'be.npy'),
        patchHeader(encodeNpy({ data: Int32Array.from([1, 2]).map((v) => ((v & 0xff) << 24) | (v >>> 8)) }), "'<i4'", "'>i4'"),
      );
      const gray = await openNpyPair({ images: join(dir, 'gray.npy'), labels: join(dir, 'be.npy'), numClasses: 3 });
      expect(gray.imageShape).toEqual([4, 4, 1]);
      expect([...gray.labels]).toEqual([1, 2]);
      await gray.close();
    });
  });

  it('rejects bad pairs with the file and what was expected', async () => {
    await withTempDir(async (dir) => {
      const f = (name: string) => join(dir, name);
      const images = encodeNpy({ data: new Uint8Array(3 * 32 * 32 * 3), shape: [3, 32, 32, 3] });
      await writeFile(f('images.npy'), images);
      await writeNpy(f('labels.npy'), { data: BigInt64Array.from([0n, 1n, 2n]) });
      await writeFile(f('truncated.npy'), images.subarray(0, images.length - 100));
      await writeFile(f('fortran.npy'), patchHeader(images, 'False, ', 'True,  '));
      await writeNpy(f('float.npy'), { data: new Float32Array(3 * 4), shape: [3, 2, 2] });
      await writeNpy(f('chw.npy'), { data: new Uint8Array(3 * 32 * 4 * 4), shape: [3, 32, 4, 4] });
      await writeNpy(f('labels2.npy'), { data: Int32Array.from([0, 1]) });
      await writeNpy(f('labels-oob.npy'), { data: Int32Array.from([0, 10, 1]) });
      await writeNpy(f('labels-float.npy'), { data: Float64Array.from([0, 1, 2]) });
      await writeNpy(f('labels-2d.npy'), { data: Int32Array.from([0, 1, 2]), shape: [3, 1] });
      const cases: [string, string, RegExp][] = [
        ['truncated.npy', 'labels.npy', /truncated\.npy: truncated \.npy file/],
        ['fortran.npy', 'labels.npy', /fortran\.npy: Fortran-ordered arrays are not supported/],
        ['float.npy', 'labels.npy', /float\.npy: images must be uint8 \(0\.\.255\), got float32/],
        ['chw.npy', 'labels.npy', /chw\.npy: expected 1 or 3 channels in the last axis \(HWC\), got 4/],
        ['images.npy', 'labels2.npy', /labels2\.npy: 2 labels but .*images\.npy has 3 images/],
        ['images.npy', 'labels-oob.npy', /labels-oob\.npy: label 10 at index 1 is outside \[0, 10\)/],
        ['images.npy', 'labels-float.npy', /labels-float\.npy: labels must have an integer dtype, got float64/],
        ['images.npy', 'labels-2d.npy', /labels-2d\.npy: labels must be a 1-D array, got shape \(3, 1\)/],
        ['images.npy', 'missing.npy', /missing\.npy/],
      ];
      for (const [img, lab, pattern] of cases) {
        await expect(openNpyPair({ images: f(img), labels: f(lab), numClasses: 10 })).rejects.toThrow(pattern);
      }
    });
  });
});
