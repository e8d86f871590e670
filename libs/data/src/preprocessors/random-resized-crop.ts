import { z } from 'zod';
import { defineComponent, type Rng } from '@oodkit/core';
import { roundHalfEven } from './center-crop.js';
import { resize, sizeArg, toHW } from './resize.js';
import { cropWindows, type HostImages, type Preprocessor } from './types.js';

/**
 * torchvision RandomResizedCrop's window: up to 10 tries of area ∈ scale·H·W and log-uniform aspect
 * ratio, sizes rounded half-to-even; if none fits, the central crop clamped to the ratio range.
 * Returns [top, left, height, width].
 */
export function resizedCropWindow(
  h: number,
  w: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  rng: Rng,
): [number, number, number, number] {
  const area = h * w;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.uniform());
    const aspect = Math.exp(logLo + (logHi - logLo) * rng.uniform());
    const cw = roundHalfEven(Math.sqrt(target * aspect));
    const ch = roundHalfEven(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) return [rng.int(0, h - ch), rng.int(0, w - cw), ch, cw];
  }
  const inRatio = w / h;
  let cw = w;
  let ch = h;
  if (inRatio < Math.min(...ratio)) ch = roundHalfEven(cw / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) cw = roundHalfEven(ch * Math.max(...ratio));
  return [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw];
}

/** Per image: a random window (see resizedCropWindow) resized bilinearly to the output size. */
export function randomResizedCrop(
  oh: number,
  ow: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
): Preprocessor {
  const toSize = resize(oh, ow);
  return {
    name: 'random_resized_crop',
    random: true,
    outputShape: (s) => [oh, ow, s[2]],
    apply(images: HostImages, rng: Rng): HostImages {
      const { n, h, w, c } = images;
      const out = images.data instanceof Uint8Array ? new Uint8Array(n * oh * ow * c) : new Float32Array(n * oh * ow * c);
      const one = h * w * c;
      for (let i = 0; i < n; i++) {
        const [top, left, ch, cw] = resizedCropWindow(h, w, scale, ratio, rng);
        const single: HostImages = { n: 1, h, w, c, data: images.data.subarray(i * one, (i + 1) * one) };
        const window = cropWindows(single, ch, cw, () => [top, left]);
        out.set(toSize.apply(window, rng).data, i * oh * ow * c);
      }
      return { n, h: oh, w: ow, c, data: out };
    },
  };
}

export const randomResizedCropPreprocessor = defineComponent({
  kind: 'preprocessor',
  name: 'random_resized_crop',
  description: 'torchvision RandomResizedCrop: random area/aspect window resized to size (train-time augmentation)',
  args: z.strictObject({
    size: sizeArg,
    scale: z.tuple([z.number().positive(), z.number().positive()]).default([0.08, 1]),
    ratio: z.tuple([z.number().positive(), z.number().positive()]).default([3 / 4, 4 / 3]),
  }),
  create: (args) => randomResizedCrop(...toHW(args.size), args.scale, args.ratio),
});
