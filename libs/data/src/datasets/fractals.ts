import { z } from 'zod';
import { defineComponent, deriveSeed, type ImageDataset } from '@oodkit/core';
import { PixelRng } from '../generate/prng.js';
import { drawFractal } from '../generate/fractals.js';
import { checkIndices, imageBytes } from './base.js';

export const fractalsArgs = z.strictObject({
  count: z.int().positive().default(10_000),
  /** [H, W, C] */
  shape: z.tuple([z.int().positive(), z.int().positive(), z.union([z.literal(1), z.literal(3)])]).default([28, 28, 1]),
  /** Fixed per set (not the run seed): the same images in every run. */
  seed: z.int().default(0),
  /** Chaos-game points per image (more = smoother density). */
  points: z.int().positive().default(20_000),
  num_classes: z.int().positive().default(10),
  name: z.string().optional(),
});

/**
 * Random IFS fractals made on demand (image i = f(seed, i)): an offline stand-in for PixMix's
 * fractal mixing set, usable as any OOD or outlier set too. Labels are all −1.
 */
export class FractalDataset implements ImageDataset {
  readonly labels: Int32Array;

  constructor(
    readonly name: string,
    count: number,
    readonly imageShape: readonly [number, number, number],
    readonly seed: number,
    readonly numClasses: number,
    private readonly points: number,
  ) {
    this.labels = new Int32Array(count).fill(-1);
  }

  get length(): number {
    return this.labels.length;
  }

  readImages(indices: ArrayLike<number>): Promise<Uint8Array> {
    checkIndices(indices, this.length, this.name);
    const [h, w, c] = this.imageShape;
    const bytes = imageBytes(this.imageShape);
    const out = new Uint8Array(indices.length * bytes);
    for (let k = 0; k < indices.length; k++) {
      drawFractal(
        new PixelRng(deriveSeed(this.seed, `fractal/${indices[k]}`)),
        h,
        w,
        c,
        out.subarray(k * bytes, (k + 1) * bytes),
        this.points,
      );
    }
    return Promise.resolve(out);
  }
}

export const fractalsDataset = defineComponent({
  kind: 'dataset',
  name: 'fractals',
  description: 'Seeded random IFS fractals (chaos game, log density; coloured per map for 3 channels): a PixMix mixing set',
  args: fractalsArgs,
  create: (args) => new FractalDataset(args.name ?? 'fractals', args.count, args.shape, args.seed, args.num_classes, args.points),
});
