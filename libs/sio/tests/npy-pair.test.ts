import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute } from '@oodkit/compute';
import { writeNpy } from '@oodkit/core';
import { MemoryDataset } from '@oodkit/data';
import { conformImages, loadSyntheticPair, writeSyntheticPair } from '../src/index.js';

let root: string;
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'oodkit-sio-npy-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const target = { imageShape: [2, 2, 1] as const, numClasses: 3 };

async function pair(
  name: string,
  images: { data: Uint8Array | Float32Array; shape: number[] },
  labels: { data: BigInt64Array | Int32Array | Float32Array | Uint8Array; shape?: number[] },
) {
  const imagesPath = join(root, `${name}-images.npy`);
  const labelsPath = join(root, `${name}-labels.npy`);
  await writeNpy(imagesPath, images);
  await writeNpy(labelsPath, labels);
  return { imagesPath, labelsPath };
}

describe('loadSyntheticPair (the SIO .npy format)', () => {
  it('loads uint8 NHWC images with int64 labels, and NHW as one channel', async () => {
    const px = Uint8Array.from({ length: 12 }, (_, i) => i * 10);
    const a = await pair('ok', { data: px, shape: [3, 2, 2, 1] }, { data: new BigInt64Array([0n, 2n, 1n]) });
    const ds = await loadSyntheticPair(a.imagesPath, a.labelsPath, target);
    expect(ds.length).toBe(3);
    expect(Array.from(ds.labels)).toEqual([0, 2, 1]);
    expect(Array.from(await ds.readImages([2, 0]))).toEqual([80, 90, 100, 110, 0, 10, 20, 30]);
    const b = await pair('nhw', { data: px, shape: [3, 2, 2] }, { data: new Uint8Array([1, 1, 0]) });
    expect(Array.from((await loadSyntheticPair(b.imagesPath, b.labelsPath, target)).labels)).toEqual([1, 1, 0]);
  });

  it('rejects wrong dtypes, lengths, label ranges and truncated files, naming the file', async () => {
    const px = new Uint8Array(12);
    const f = await pair('float', { data: new Float32Array(12), shape: [3, 2, 2, 1] }, { data: new BigInt64Array(3) });
    await expect(loadSyntheticPair(f.imagesPath, f.labelsPath, target)).rejects.toThrow(
      /float-images\.npy: synthetic images must be uint8/,
    );
    const len = await pair('len', { data: px, shape: [3, 2, 2, 1] }, { data: new BigInt64Array(2) });
    await expect(loadSyntheticPair(len.imagesPath, len.labelsPath, target)).rejects.toThrow(/len-labels\.npy: 2 labels for 3 images/);
    const range = await pair('range', { data: px, shape: [3, 2, 2, 1] }, { data: new BigInt64Array([0n, 3n, 1n]) });
    await expect(loadSyntheticPair(range.imagesPath, range.labelsPath, target)).rejects.toThrow(
      /range-labels\.npy: label 3 at index 1 is outside \[0, 3\)/,
    );
    const fl = await pair('flabels', { data: px, shape: [3, 2, 2, 1] }, { data: new Float32Array(3) });
    await expect(loadSyntheticPair(fl.imagesPath, fl.labelsPath, target)).rejects.toThrow(
      /flabels-labels\.npy: labels must have an integer dtype/,
    );
    const cut = await pair('cut', { data: px, shape: [3, 2, 2, 1] }, { data: new BigInt64Array(3) });
    writeFileSync(cut.imagesPath, readFileSync(cut.imagesPath).subarray(0, 130));
    await expect(loadSyntheticPair(cut.imagesPath, cut.labelsPath, target)).rejects.toThrow(/cut-images\.npy: truncated/);
  });

  it('a size or channel mismatch is an error naming the file unless resize is set', async () => {
    const rgb = await pair('rgb', { data: new Uint8Array(3 * 4 * 4 * 3).fill(200), shape: [3, 4, 4, 3] }, { data: new BigInt64Array(3) });
    await expect(loadSyntheticPair(rgb.imagesPath, rgb.labelsPath, target)).rejects.toThrow(
      /rgb-images\.npy: synthetic images are 4×4×3 but the real training images are 2×2×1; set sio\.resize: true/,
    );
    const resized = await loadSyntheticPair(rgb.imagesPath, rgb.labelsPath, target, { resize: true });
    expect(resized.imageShape).toEqual([2, 2, 1]);
    // a constant image stays constant under luma conversion and bilinear resizing
    expect(Array.from(await resized.readImages([0]))).toEqual([200, 200, 200, 200]);
  });

  it('conformImages converts gray → RGB by repetition and RGB → gray by luma', () => {
    expect(Array.from(conformImages(new Uint8Array([10, 20]), [1, 1, 2, 1], [1, 2, 3]))).toEqual([10, 10, 10, 20, 20, 20]);
    // 0.299·100 + 0.587·50 + 0.114·200 = 82.15
    expect(Array.from(conformImages(new Uint8Array([100, 50, 200]), [1, 1, 1, 3], [1, 1, 1]))).toEqual([82]);
  });

  it('writeSyntheticPair writes the SIO format (uint8 NHWC, int64 labels) that loads back', async () => {
    const ds = new MemoryDataset(
      'g',
      Uint8Array.from({ length: 8 }, (_, i) => i),
      [2, 2, 1],
      3,
      new Int32Array([2, 0]),
    );
    const imagesPath = join(root, 'w-images.npy');
    const labelsPath = join(root, 'w-labels.npy');
    await writeSyntheticPair(imagesPath, labelsPath, ds);
    const header = readFileSync(labelsPath).subarray(0, 80).toString('latin1');
    expect(header).toContain("'descr': '<i8'");
    const back = await loadSyntheticPair(imagesPath, labelsPath, target);
    expect(Array.from(back.labels)).toEqual([2, 0]);
    expect(Array.from(await back.readImages([0, 1]))).toEqual(Array.from(await ds.readImages([0, 1])));
  });
});
