import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { normalize } from '../src/preprocessors/normalize.js';
import { resize } from '../src/preprocessors/resize.js';
import { centerCrop, roundHalfEven } from '../src/preprocessors/center-crop.js';
import { randomCrop } from '../src/preprocessors/random-crop.js';
import { horizontalFlip } from '../src/preprocessors/horizontal-flip.js';
import { toGrayscale, toRgb } from '../src/preprocessors/channels.js';
import { applyChain, chainOutputShape, type HostImages } from '../src/preprocessors/types.js';
import { range, registry, ctx } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const batch = (n: number, h: number, w: number, c: number, f = (i: number) => i % 256): HostImages => ({
  n,
  h,
  w,
  c,
  data: Uint8Array.from(range(n * h * w * c), f),
});

describe('preprocessors', () => {
  it('normalize: (x/255 − mean)/std per channel', () => {
    const out = normalize([0.5, 0.25], [0.5, 0.25]).apply(
      { n: 1, h: 1, w: 2, c: 2, data: Uint8Array.from([255, 0, 51, 255]) },
      Rng.fromSeed(0),
    );
    expect(out.data).toBeInstanceOf(Float32Array);
    expect([...out.data].map((v) => +v.toFixed(5))).toEqual([1, -1, -0.6, 3]);
  });

  it('resize agrees with tf.image.resizeBilinear (half-pixel centres) up and down', () => {
    for (const [oh, ow] of [
      [7, 5],
      [2, 3],
      [16, 16],
    ]) {
      const input: HostImages = { ...batch(2, 6, 4, 3, (i) => (i * 37) % 251), data: Float32Array.from(range(144), (i) => (i * 37) % 251) };
      const ours = resize(oh, ow).apply(input, Rng.fromSeed(0));
      const ref = tf.tidy(() =>
        tf.image.resizeBilinear(tf.tensor4d(input.data as Float32Array, [2, 6, 4, 3]), [oh, ow], false, true).dataSync(),
      );
      expect(ours.h).toBe(oh);
      for (let i = 0; i < ref.length; i++) expect(ours.data[i]).toBeCloseTo(ref[i], 3);
    }
  });

  it('center crop uses torchvision offsets (round half to even) and zero-pads smaller images', () => {
    expect([roundHalfEven(0.5), roundHalfEven(1.5), roundHalfEven(2.5), roundHalfEven(1)]).toEqual([0, 2, 2, 1]);
    const img = batch(1, 5, 5, 1);
    const out = centerCrop(2, 3).apply(img, Rng.fromSeed(0));
    // top = round(1.5) = 2, left = round(1) = 1
    expect([...out.data]).toEqual([11, 12, 13, 16, 17, 18]);
    const padded = centerCrop(4, 4).apply(
      batch(1, 2, 2, 1, (i) => i + 1),
      Rng.fromSeed(0),
    );
    expect([...padded.data]).toEqual([0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0]);
  });

  it('random crop with padding: every window is a shifted copy with zero fill, offsets cover the full range', () => {
    const img = batch(400, 4, 4, 1, (i) => (i % 16) + 1);
    const out = randomCrop(4, 4, 2).apply(img, Rng.fromSeed(3));
    const shifts = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const crop = out.data.subarray(i * 16, i * 16 + 16);
      // find the shift (dy, dx) in [-2, 2]² consistent with the crop
      let found = '';
      for (let dy = -2; dy <= 2 && !found; dy++) {
        for (let dx = -2; dx <= 2 && !found; dx++) {
          let ok = true;
          for (let y = 0; y < 4 && ok; y++) {
            for (let x = 0; x < 4 && ok; x++) {
              const sy = y + dy;
              const sx = x + dx;
              const expected = sy < 0 || sy > 3 || sx < 0 || sx > 3 ? 0 : sy * 4 + sx + 1;
              ok = crop[y * 4 + x] === expected;
            }
          }
          if (ok) found = `${dy},${dx}`;
        }
      }
      expect(found).not.toBe('');
      shifts.add(found);
    }
    expect(shifts.size).toBe(25);
    expect(randomCrop(4, 4, 2).apply(img, Rng.fromSeed(3)).data).toEqual(out.data);
  });

  it('horizontal flip mirrors like tf.image.flipLeftRight, about half the images at p = 0.5', () => {
    const img = batch(200, 3, 5, 3, (i) => (i * 7) % 256);
    const out = horizontalFlip(0.5).apply(img, Rng.fromSeed(1));
    const flipped = tf.tidy(() => tf.image.flipLeftRight(tf.tensor4d(Float32Array.from(img.data), [200, 3, 5, 3])).dataSync());
    let nFlipped = 0;
    for (let i = 0; i < 200; i++) {
      const got = [...out.data.subarray(i * 45, i * 45 + 45)];
      const same = got.every((v, j) => v === img.data[i * 45 + j]);
      const mirrored = got.every((v, j) => v === flipped[i * 45 + j]);
      expect(same || mirrored).toBe(true);
      if (mirrored && !same) nFlipped++;
    }
    expect(nFlipped).toBeGreaterThan(70);
    expect(nFlipped).toBeLessThan(130);
    expect(horizontalFlip(0).apply(img, Rng.fromSeed(1)).data).toEqual(img.data);
  });

  it('random resized crop: windows of the drawn area, uniform offsets, torchvision fallback', async () => {
    const { randomResizedCrop, resizedCropWindow } = await import('../src/preprocessors/random-resized-crop.js');
    // area fixed at 36% of 10×10 and ratio 1 → 6×6 windows; output 6×6 = the window itself
    const img = batch(300, 10, 10, 1, (i) => i % 100);
    const out = randomResizedCrop(6, 6, [0.36, 0.36], [1, 1]).apply(img, Rng.fromSeed(2));
    const offsets = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const crop = out.data.subarray(i * 36, i * 36 + 36);
      const top = Math.floor(crop[0] / 10);
      const left = crop[0] % 10;
      for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++) expect(crop[y * 6 + x]).toBe((top + y) * 10 + left + x);
      offsets.add(`${top},${left}`);
    }
    expect(offsets.size).toBe(25);
    // impossible ratio 2 on a square: every try is too wide → central crop clamped to ratio 2: 10 wide × 5 high at row 2
    expect(resizedCropWindow(10, 10, [1, 1], [2, 2], Rng.fromSeed(0))).toEqual([2, 0, 5, 10]);
    const fallback = randomResizedCrop(5, 10, [1, 1], [2, 2]).apply(batch(1, 10, 10, 1), Rng.fromSeed(0));
    expect([...fallback.data]).toEqual(range(50, 20));
    // defaults produce the output size and stay within the source's value range
    const rr = randomResizedCrop(8, 8, [0.08, 1], [3 / 4, 4 / 3]).apply(batch(20, 16, 12, 3), Rng.fromSeed(5));
    expect([rr.n, rr.h, rr.w, rr.c]).toEqual([20, 8, 8, 3]);
    for (let k = 0; k < 50; k++) {
      const [t, l, h, w] = resizedCropWindow(16, 12, [0.08, 1], [3 / 4, 4 / 3], Rng.fromSeed(k));
      expect(t >= 0 && l >= 0 && t + h <= 16 && l + w <= 12 && h * w >= 0.08 * 192 * 0.9).toBe(true);
    }
  });

  it('grayscale ↔ RGB', () => {
    const rgb = toRgb().apply({ n: 1, h: 1, w: 2, c: 1, data: Uint8Array.from([5, 200]) }, Rng.fromSeed(0));
    expect([...rgb.data]).toEqual([5, 5, 5, 200, 200, 200]);
    const gray = toGrayscale().apply({ n: 1, h: 1, w: 2, c: 3, data: Uint8Array.from([255, 0, 0, 10, 20, 30]) }, Rng.fromSeed(0));
    expect([...gray.data]).toEqual([76, Math.round(0.299 * 10 + 0.587 * 20 + 0.114 * 30)]);
  });

  it('chains compose from config sections, with output shapes and per-step streams', async () => {
    const c = { ...ctx({ benchmark: { normalization: { mean: [0.5], std: [0.5] } } }), registry };
    const { buildChain } = await import('../src/preprocessors/chain.js');
    const chain = await buildChain(
      [
        { name: 'to_rgb' },
        { name: 'random_crop', args: { size: 4, padding: 1 } },
        { name: 'resize', args: { size: [8, 6] } },
        { name: 'normalize' },
      ],
      c,
      'preprocessor.train',
    );
    expect(chainOutputShape(chain, [4, 4, 1])).toEqual([8, 6, 3]);
    const out = applyChain(chain, batch(2, 4, 4, 1), Rng.fromSeed(9));
    expect([out.n, out.h, out.w, out.c]).toEqual([2, 8, 6, 3]);
    expect(out.data).toBeInstanceOf(Float32Array);
    expect(Math.min(...out.data)).toBeGreaterThanOrEqual(-1);
    await expect(buildChain([{ name: 'normalise' }], c, 'preprocessor.test')).rejects.toThrow(/did you mean 'normalize'/);
    await expect(buildChain([{ name: 'normalize' }], { ...ctx(), registry }, 'p')).rejects.toThrow(/mean and std are required/);
  });
});
