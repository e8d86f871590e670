import { z } from 'zod';
import { defineComponent, deriveSeed, type ImageDataset } from '@oodkit/core';
import { PixelRng } from '../generate/prng.js';
import { drawPattern, PATTERN_KINDS, type PatternKind } from '../generate/patterns.js';
import { checkIndices, imageBytes } from './base.js';

export const generatedArgs = z.strictObject({
  kind: z.enum(PATTERN_KINDS),
  count: z.int().positive().default(2000),
  /** [H, W, C] */
  shape: z.tuple([z.int().positive(), z.int().positive(), z.union([z.literal(1), z.literal(3)])]).default([28, 28, 1]),
  /** Fixed per set (not the run seed): a benchmark's far-OOD images are the same in every run. */
  seed: z.int().default(0),
  /** The ID class count of the benchmark (labels are all -1). */
  num_classes: z.int().positive().default(10),
  name: z.string().optional(),
});

/**
 * Far-OOD images made on demand: image i is a pure function of (kind, seed, i), so the set costs
 * no memory, reads in any order and never changes.
 */
export class GeneratedDataset implements ImageDataset {
  readonly labels: Int32Array;
  readonly imageShape: readonly [number, number, number];

  constructor(
    readonly name: string,
    readonly kind: PatternKind,
    count: number,
    shape: readonly [number, number, number],
    readonly seed: number,
    readonly numClasses: number,
  ) {
    this.labels = new Int32Array(count).fill(-1);
    this.imageShape = shape;
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
      const rng = new PixelRng(deriveSeed(this.seed, `${this.kind}/${indices[k]}`));
      drawPattern(this.kind, rng, h, w, c, out.subarray(k * bytes, (k + 1) * bytes));
    }
    return Promise.resolve(out);
  }
}

export const generatedDataset = defineComponent({
  kind: 'dataset',
  name: 'generated',
  description: 'Seeded procedural far-OOD images: gaussian/uniform noise, stripes, checkerboard, perlin, blobs',
  args: generatedArgs,
  create: (args) => new GeneratedDataset(args.name ?? args.kind, args.kind, args.count, args.shape, args.seed, args.num_classes),
});
