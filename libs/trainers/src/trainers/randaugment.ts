import { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type BuildContext, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import type { Image8 } from '../augment/pil-ops.js';
import { imageOf, normalizationArgs, normalizationOf, toUnit, writeNormalized } from '../augment/pixels.js';
import { applyOp, randAugmentSpace } from '../augment/torchvision-ops.js';
import { crossEntropy } from '../losses.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const randaugmentArgs = z
  .strictObject({
    ...optimizerArgs,
    n: z.int().min(0).default(1).describe('ops applied in sequence to every image (RandAugment N; OpenOOD: 1)'),
    m: z.int().min(0).default(14).describe('magnitude index into the num_magnitude_bins table (RandAugment M; OpenOOD: 14)'),
    num_magnitude_bins: z.int().min(2).default(31),
    ...normalizationArgs,
  })
  .refine((a) => a.m < a.num_magnitude_bins, { message: 'm must be < num_magnitude_bins', path: ['m'] });
export type RandAugmentArgs = z.infer<typeof randaugmentArgs>;

/**
 * torchvision's RandAugment forward on one image: N times an op drawn uniformly from the 14, its
 * magnitude the M-th of its table, negated with probability ½ for the signed ones (the sign drawn
 * only for them, after the op, as torchvision draws).
 */
export function randAugmentImage(img: Image8, rng: Rng, options: { n: number; m: number; numBins: number }): Image8 {
  const space = randAugmentSpace(options.numBins, img.h, img.w);
  let out = img;
  for (let k = 0; k < options.n; k++) {
    const op = space[rng.int(0, space.length - 1)]!;
    let magnitude = op.magnitudes ? op.magnitudes[options.m]! : 0;
    if (op.signed && rng.int(0, 1) === 1) magnitude = -magnitude;
    out = applyOp(out, op.name, magnitude);
  }
  return out;
}

/**
 * RandAugment (Cubuk et al. 2020) as OpenOOD's randaugment preprocessor (torchvision.transforms.RandAugment,
 * bilinear) in front of its base trainer: each training image, mapped back to pixels, is augmented,
 * normalised again and trained with cross-entropy.
 */
export class RandAugmentTrainer extends SgdTrainer {
  readonly name = 'randaugment';

  constructor(
    private readonly args: RandAugmentArgs,
    rng: Rng,
    private readonly ctx: BuildContext,
  ) {
    super(args, rng);
  }

  /** The augmented batch as normalised NHWC floats (draws from the trainer's stream). */
  async augmentBatch(x: tf.Tensor4D): Promise<Float32Array> {
    const [n, h, w, c] = x.shape;
    const norm = normalizationOf(this.args, this.ctx.config);
    const values = (await x.data()) as Float32Array;
    const out = new Float32Array(values.length);
    for (let i = 0; i < n; i++) {
      const img = randAugmentImage(imageOf(values, i, [h, w, c], norm), this.rng, {
        n: this.args.n,
        m: this.args.m,
        numBins: this.args.num_magnitude_bins,
      });
      writeNormalized(out, i, toUnit(img), c, norm);
    }
    return out;
  }

  override async step(batch: Batch, outliers?: Batch) {
    const augmented = tf.tensor4d(await this.augmentBatch(batch.x), batch.x.shape);
    try {
      return await super.step({ ...batch, x: augmented }, outliers);
    } finally {
      augmented.dispose();
    }
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    return crossEntropy(network.forward(batch.x, true), batch.y);
  }
}

export const randaugment = defineComponent({
  kind: 'trainer',
  name: 'randaugment',
  description: "RandAugment (torchvision's 14 ops, N 1, M 14 of 31 bins) on every training image; cross-entropy",
  args: randaugmentArgs,
  create: (args, ctx) => new RandAugmentTrainer(args, ctx.rng, ctx),
});
