import { z } from 'zod';
import { defineComponent, type Rng } from '@oodkit/core';
import type { HostImages, Preprocessor } from './types.js';

/** Mirrors each image left↔right with probability p (an independent draw per image). */
export function horizontalFlip(p: number): Preprocessor {
  return {
    name: 'horizontal_flip',
    random: true,
    outputShape: (s) => [s[0], s[1], s[2]],
    apply(images: HostImages, rng: Rng): HostImages {
      const { n, h, w, c } = images;
      const data = images.data.slice();
      for (let i = 0; i < n; i++) {
        if (!(rng.uniform() < p)) continue;
        for (let y = 0; y < h; y++) {
          const row = (i * h + y) * w * c;
          for (let x = 0; x < w >> 1; x++) {
            const a = row + x * c;
            const b = row + (w - 1 - x) * c;
            for (let ch = 0; ch < c; ch++) {
              const t = data[a + ch];
              data[a + ch] = data[b + ch];
              data[b + ch] = t;
            }
          }
        }
      }
      return { ...images, data };
    },
  };
}

export const horizontalFlipPreprocessor = defineComponent({
  kind: 'preprocessor',
  name: 'horizontal_flip',
  description: 'Random horizontal flip with probability p (train-time augmentation)',
  args: z.strictObject({ p: z.number().min(0).max(1).default(0.5) }),
  create: (args) => horizontalFlip(args.p),
});
