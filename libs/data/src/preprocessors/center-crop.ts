import { z } from 'zod';
import { defineComponent } from '@oodkit/core';
import { sizeArg, toHW } from './resize.js';
import { cropWindows, type HostImages, type Preprocessor } from './types.js';

/** Python's round (half to even), which torchvision's center_crop uses for the offsets. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function centerCrop(oh: number, ow: number): Preprocessor {
  return {
    name: 'center_crop',
    random: false,
    outputShape: (s) => [oh, ow, s[2]],
    apply: (images: HostImages) => {
      const top = roundHalfEven((images.h - oh) / 2);
      const left = roundHalfEven((images.w - ow) / 2);
      // a smaller image is padded with zeros around, as torchvision does
      return cropWindows(images, oh, ow, () => [top, left]);
    },
  };
}

export const centerCropPreprocessor = defineComponent({
  kind: 'preprocessor',
  name: 'center_crop',
  description: 'Central crop to size (int or [h, w]); smaller images are zero-padded',
  args: z.strictObject({ size: sizeArg }),
  create: (args) => centerCrop(...toHW(args.size)),
});
