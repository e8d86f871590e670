import { z } from 'zod';
import { defineComponent, type Rng } from '@oodkit/core';
import { sizeArg, toHW } from './resize.js';
import { cropWindows, type HostImages, type Preprocessor } from './types.js';

/**
 * torchvision RandomCrop(size, padding): zero-pad every side by `padding`, then a window whose
 * top-left is uniform over all positions that fit (both ends included), per image.
 */
export function randomCrop(oh: number, ow: number, padding: number): Preprocessor {
  return {
    name: 'random_crop',
    random: true,
    outputShape: (s) => [oh, ow, s[2]],
    apply: (images: HostImages, rng: Rng) =>
      cropWindows(images, oh, ow, () => [
        rng.int(0, images.h + 2 * padding - oh) - padding,
        rng.int(0, images.w + 2 * padding - ow) - padding,
      ]),
  };
}

export const randomCropPreprocessor = defineComponent({
  kind: 'preprocessor',
  name: 'random_crop',
  description: 'Random crop to size after zero padding (train-time augmentation)',
  args: z.strictObject({ size: sizeArg, padding: z.int().nonnegative().default(0) }),
  create: (args) => randomCrop(...toHW(args.size), args.padding),
});
