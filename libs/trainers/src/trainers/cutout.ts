import { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { crossEntropy } from '../losses.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const cutoutArgs = z.strictObject({
  ...optimizerArgs,
  n_holes: z.int().min(0).default(1).describe('square patches cut out of every image (OpenOOD: 1)'),
  length: z.int().positive().default(16).describe('side of each patch in pixels, before clipping to the image (OpenOOD: 16)'),
});
export type CutoutArgs = z.infer<typeof cutoutArgs>;

/**
 * Cutout's masks for a batch [n, h, w] (1 keep, 0 cut), as OpenOOD's `Cutout`: per image and hole a
 * centre y ∈ [0, h), x ∈ [0, w), the patch rows clip(y − ⌊L/2⌋, 0, h) … clip(y + ⌊L/2⌋, 0, h) (end
 * exclusive) and likewise columns; holes may overlap.
 */
export function cutoutMasks(rng: Rng, n: number, h: number, w: number, holes: number, length: number): Float32Array {
  const mask = new Float32Array(n * h * w).fill(1);
  const half = Math.floor(length / 2);
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < holes; k++) {
      const y = rng.int(0, h - 1);
      const x = rng.int(0, w - 1);
      const [y1, y2, x1, x2] = [clip(y - half, h), clip(y + half, h), clip(x - half, w), clip(x + half, w)];
      for (let r = y1; r < y2; r++) mask.fill(0, i * h * w + r * w + x1, i * h * w + r * w + x2);
    }
  }
  return mask;
}

/**
 * Cutout (DeVries & Taylor 2017) as OpenOOD's cutout preprocessor in front of its base trainer: every
 * training image, after normalisation, is multiplied by its mask (a cut pixel becomes 0 in normalised
 * space, i.e. the normalisation mean), then cross-entropy. Real and SIO-synthetic images alike.
 */
export class CutoutTrainer extends SgdTrainer {
  readonly name = 'cutout';

  constructor(
    private readonly args: CutoutArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    const [n, h, w] = batch.x.shape;
    const mask = tf.tensor4d(cutoutMasks(this.rng, n, h, w, this.args.n_holes, this.args.length), [n, h, w, 1]);
    return crossEntropy(network.forward(tf.mul(batch.x, mask) as tf.Tensor4D, true), batch.y);
  }
}

export const cutout = defineComponent({
  kind: 'trainer',
  name: 'cutout',
  description: 'Cutout: n_holes square patches (length 16) of every normalised training image set to 0; cross-entropy',
  args: cutoutArgs,
  create: (args, ctx) => new CutoutTrainer(args, ctx.rng),
});
