import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '@oodkit/core';
import { coefficients, resizeBilinear, toL } from '../src/preprocessors/pil.cjs';
import { normalize } from '../src/preprocessors/normalize.js';
import { pilResize } from '../src/preprocessors/resize.js';
import { decodeImage } from '../src/workers/decode.cjs';
import { build, withTempDir } from './helpers.js';

// Fixtures from Pillow 9.4 / torchvision 0.14 (Debian): fixtures/pil/make_fixtures.py beside them.
const dir = new URL('./fixtures/pil/', import.meta.url).pathname;
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

interface ResizeCase {
  w: number;
  h: number;
  c: number;
  ow: number;
  oh: number;
  src: string;
  out: string;
}
const resizeFixture = JSON.parse(readFileSync(join(dir, 'resize_cases.json'), 'utf8')) as {
  resize: ResizeCase[];
  convert_l: { w: number; h: number; rgb: string; l: string };
};

interface TransformCase {
  file: string;
  mode: string;
  pre_size: number;
  image_size: number;
  pixels: string;
  normalized_chw?: string;
}
const transforms = JSON.parse(readFileSync(join(dir, 'transforms.json'), 'utf8')) as {
  mean: number[];
  std: number[];
  cases: TransformCase[];
};

describe("Pillow's bilinear resize", () => {
  it('equals Image.resize(BILINEAR) byte for byte: down, up, one axis, to 1 px, odd ratios', () => {
    expect(resizeFixture.resize.length).toBeGreaterThan(20);
    for (const r of resizeFixture.resize) {
      const got = resizeBilinear(bytes(r.src), r.w, r.h, r.c, r.ow, r.oh);
      expect(Buffer.from(got).equals(Buffer.from(bytes(r.out))), `${r.w}×${r.h}×${r.c} → ${r.ow}×${r.oh}`).toBe(true);
    }
  });

  it('an equal-size resize is the identity (the same array)', () => {
    const src = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 37) % 256);
    expect(resizeBilinear(src, 5, 4, 3, 5, 4)).toBe(src);
    const batch = { n: 1, h: 4, w: 5, c: 3, data: src };
    expect(pilResize(4, 5).apply(batch, Rng.fromSeed(0))).toBe(batch);
  });

  it('antialiases when shrinking: the filter widens by the scale; fixed-point weights sum to 2^22', () => {
    const down = coefficients(64, 8); // scale 8: support 8, up to 17 taps
    expect(down.ksize).toBe(17);
    const up = coefficients(8, 64);
    expect(up.ksize).toBe(3);
    for (const { ksize, bounds, weights } of [down, up, coefficients(37, 10)]) {
      for (let o = 0; o < bounds.length / 2; o++) {
        let sum = 0;
        for (let k = 0; k < bounds[2 * o + 1]; k++) sum += weights[o * ksize + k];
        expect(Math.abs(sum - 2 ** 22)).toBeLessThanOrEqual(ksize);
      }
    }
    // a constant image stays constant (rounding included)
    const flat = new Uint8Array(64 * 64).fill(201);
    expect(new Set(resizeBilinear(flat, 64, 64, 1, 7, 9))).toEqual(new Set([201]));
  });

  it('the batch preprocessor (filter: pil_bilinear) resizes each image and refuses float input', () => {
    const r = resizeFixture.resize.find((c) => c.c === 3 && c.ow < c.w)!;
    const one = bytes(r.src);
    const two = new Uint8Array(one.length * 2);
    two.set(one);
    two.set(one, one.length);
    const out = pilResize(r.oh, r.ow).apply({ n: 2, h: r.h, w: r.w, c: 3, data: two }, Rng.fromSeed(0));
    expect(Buffer.from(out.data.subarray(out.data.length / 2)).equals(Buffer.from(bytes(r.out)))).toBe(true);
    expect(() => pilResize(2, 2).apply({ n: 1, h: 4, w: 4, c: 1, data: new Float32Array(16) }, Rng.fromSeed(0))).toThrow(
      /before normalize/,
    );
  });

  it("convert('L') uses Pillow's fixed-point luma", () => {
    const { w, h, rgb, l } = resizeFixture.convert_l;
    expect(Buffer.from(toL(bytes(rgb), w * h, 3)).equals(Buffer.from(bytes(l)))).toBe(true);
  });
});

describe("OpenOOD's test transform from image files (decode, Convert('RGB'), Resize, CenterCrop)", () => {
  it('equals torchvision on PIL images byte for byte for L, LA, P+transparency, RGB, RGBA, 1-bit, 16-bit, JPEG', async () => {
    const modes = new Set(transforms.cases.map((c) => c.mode));
    expect([...modes].sort()).toEqual(['1', 'I', 'L', 'LA', 'P', 'RGB', 'RGBA']);
    for (const c of transforms.cases) {
      const got = await decodeImage(join(dir, 'images', c.file), { imageSize: c.image_size, preSize: c.pre_size, resize: 'pil' }, [
        c.image_size,
        c.image_size,
        3,
      ]);
      const want = bytes(c.pixels);
      let differing = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) differing++;
      expect(differing, `${c.file} (${c.mode}) Resize(${c.pre_size}) CenterCrop(${c.image_size})`).toBe(0);
    }
  });

  it('ToTensor + Normalize equal PyTorch float32 bit for bit', async () => {
    const chain = normalize(transforms.mean, transforms.std);
    const cases = transforms.cases.filter((c) => c.normalized_chw);
    expect(cases.length).toBe(3);
    for (const c of cases) {
      const s = c.image_size;
      const hwc = bytes(c.pixels);
      const out = chain.apply({ n: 1, h: s, w: s, c: 3, data: hwc }, Rng.fromSeed(0)).data as Float32Array;
      const chw = new Float32Array(new Uint8Array(Buffer.from(c.normalized_chw!, 'base64')).buffer);
      let differing = 0;
      for (let ch = 0; ch < 3; ch++) for (let p = 0; p < s * s; p++) if (out[p * 3 + ch] !== chw[ch * s * s + p]) differing++;
      expect(differing, c.file).toBe(0);
    }
  });

  it('the imglist dataset selects it with resize: pil (in-process and in decode workers)', async () => {
    await withTempDir(async (root) => {
      const files = ['palette_52x40.png', 'rgb_64x64.jpg', 'gray16_34x26.png'];
      await writeFile(join(root, 'list.txt'), files.map((f, i) => `${f} ${i}`).join('\n'));
      for (const workers of [0, 1]) {
        const ds = await build(
          'imglist',
          { root: join(dir, 'images'), list: join(root, 'list.txt'), num_classes: 3, image_size: 24, pre_size: 28, resize: 'pil', workers },
          {},
        );
        const got = await ds.readImages([0, 1, 2]);
        const want = files.map((f) => bytes(transforms.cases.find((c) => c.file === f && c.pre_size === 28)!.pixels));
        expect(Buffer.from(got).equals(Buffer.concat(want.map((w) => Buffer.from(w)))), `workers ${workers}`).toBe(true);
        await (ds as unknown as { close(): Promise<void> }).close();
      }
    });
  });
});
