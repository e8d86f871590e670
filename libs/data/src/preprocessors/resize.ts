import { z } from 'zod';
import { defineComponent } from '@oodkit/core';
import { DataError } from '@oodkit/core';
import { resizeBilinear } from './pil.cjs';
import { allocLike, type HostImages, type Preprocessor } from './types.js';

const sizeSchema = z.union([z.int().positive(), z.tuple([z.int().positive(), z.int().positive()])]);
export const sizeArg = sizeSchema;
export const toHW = (size: z.infer<typeof sizeSchema>): [number, number] => (typeof size === 'number' ? [size, size] : size);

export const resizeArgs = z.strictObject({
  size: sizeSchema,
  /** `bilinear`: half-pixel-centre interpolation, no antialiasing (tf.image). `pil_bilinear`: Pillow's antialiased bilinear on uint8, byte-exact (torchvision on PIL images). */
  filter: z.enum(['bilinear', 'pil_bilinear']).optional(),
});

/** Pillow's Image.resize(BILINEAR) of every uint8 image of the batch (see pil.cjs). */
export function pilResize(oh: number, ow: number): Preprocessor {
  return {
    name: 'resize',
    random: false,
    outputShape: (s) => [oh, ow, s[2]],
    apply(images: HostImages): HostImages {
      const { n, h, w, c, data } = images;
      if (!(data instanceof Uint8Array)) throw new DataError('resize with filter pil_bilinear needs uint8 images: put it before normalize');
      if (h === oh && w === ow) return images;
      const out = new Uint8Array(n * oh * ow * c);
      for (let i = 0; i < n; i++)
        out.set(resizeBilinear(data.subarray(i * h * w * c, (i + 1) * h * w * c), w, h, c, ow, oh), i * oh * ow * c);
      return { n, h: oh, w: ow, c, data: out };
    },
  };
}

/**
 * Bilinear resize with half-pixel centres (PyTorch `align_corners=False`, TF `half_pixel_centers`),
 * no antialiasing; uint8 results are rounded.
 */
export function resize(oh: number, ow: number): Preprocessor {
  return {
    name: 'resize',
    random: false,
    outputShape: (s) => [oh, ow, s[2]],
    apply(images: HostImages): HostImages {
      const { n, h, w, c, data } = images;
      if (h === oh && w === ow) return images;
      const out = allocLike(images, n * oh * ow * c);
      const round = out instanceof Uint8Array;
      const sy = h / oh;
      const sx = w / ow;
      const ys = axis(oh, sy, h);
      const xs = axis(ow, sx, w);
      for (let i = 0; i < n; i++) {
        const src = i * h * w * c;
        const dst = i * oh * ow * c;
        for (let y = 0; y < oh; y++) {
          const [y0, y1, fy] = ys[y];
          for (let x = 0; x < ow; x++) {
            const [x0, x1, fx] = xs[x];
            for (let ch = 0; ch < c; ch++) {
              const a = data[src + (y0 * w + x0) * c + ch];
              const b = data[src + (y0 * w + x1) * c + ch];
              const d = data[src + (y1 * w + x0) * c + ch];
              const e = data[src + (y1 * w + x1) * c + ch];
              const top = a + (b - a) * fx;
              const bottom = d + (e - d) * fx;
              const v = top + (bottom - top) * fy;
              out[dst + (y * ow + x) * c + ch] = round ? Math.round(v) : v;
            }
          }
        }
      }
      return { n, h: oh, w: ow, c, data: out };
    },
  };
}

function axis(outSize: number, scale: number, inSize: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let o = 0; o < outSize; o++) {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    out.push([i0, i1, src - i0]);
  }
  return out;
}

export const resizePreprocessor = defineComponent({
  kind: 'preprocessor',
  name: 'resize',
  description: "Bilinear resize to size (int or [h, w]): half-pixel centres, or Pillow's antialiased filter (filter: pil_bilinear)",
  args: resizeArgs,
  create: (args) => (args.filter === 'pil_bilinear' ? pilResize(...toHW(args.size)) : resize(...toHW(args.size))),
});
