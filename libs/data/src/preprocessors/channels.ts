import { z } from 'zod';
import { defineComponent } from '@oodkit/core';
import { allocLike, type HostImages, type Preprocessor } from './types.js';

/** 1 channel → 3 (replicated); 3 → 3 unchanged. */
export function toRgb(): Preprocessor {
  return {
    name: 'to_rgb',
    random: false,
    outputShape: (s) => [s[0], s[1], 3],
    apply(images: HostImages): HostImages {
      if (images.c === 3) return images;
      const out = allocLike(images, images.data.length * 3);
      for (let p = 0; p < images.data.length; p++) out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = images.data[p];
      return { ...images, c: 3, data: out };
    },
  };
}

/** 3 channels → 1 by ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B, as PIL's 'L'); uint8 rounded. */
export function toGrayscale(): Preprocessor {
  return {
    name: 'to_grayscale',
    random: false,
    outputShape: (s) => [s[0], s[1], 1],
    apply(images: HostImages): HostImages {
      if (images.c === 1) return images;
      const pixels = images.data.length / 3;
      const out = allocLike(images, pixels);
      const round = out instanceof Uint8Array;
      for (let p = 0; p < pixels; p++) {
        const v = 0.299 * images.data[3 * p] + 0.587 * images.data[3 * p + 1] + 0.114 * images.data[3 * p + 2];
        out[p] = round ? Math.round(v) : v;
      }
      return { ...images, c: 1, data: out };
    },
  };
}

export const toRgbPreprocessor = defineComponent({
  kind: 'preprocessor',
  name: 'to_rgb',
  description: 'Grayscale → RGB by replicating the channel (RGB passes through)',
  args: z.strictObject({}),
  create: () => toRgb(),
});

export const toGrayscalePreprocessor = defineComponent({
  kind: 'preprocessor',
  name: 'to_grayscale',
  description: 'RGB → grayscale by ITU-R 601 luma (grayscale passes through)',
  args: z.strictObject({}),
  create: () => toGrayscale(),
});
