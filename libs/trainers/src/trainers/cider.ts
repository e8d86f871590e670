import { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { HypersphereTrainer, hypersphereOptimizerArgs } from './hypersphere.js';

export const ciderTrainerArgs = z.strictObject({
  ...hypersphereOptimizerArgs,
  w: z.number().min(0).default(2).describe('weight of the compactness loss (OpenOOD trainer_args.w: 2)'),
});
export type CiderTrainerArgs = z.infer<typeof ciderTrainerArgs>;

/**
 * CIDER (Ming et al., ICLR 2023) as OpenOOD's CIDERTrainer: embeddings on the unit hypersphere,
 * loss = w·compactness(embeddings, EMA prototypes) + dispersion(prototypes), OpenOOD's warm-up +
 * cosine schedule. OpenOOD feeds two augmented crops of every image (its `cider` preprocessor); both
 * losses compare samples with class prototypes, never with each other, so the pairing plays no role
 * in the loss: here each sample arrives once, in the training preprocessor's single view.
 */
export class CiderTrainer extends HypersphereTrainer {
  readonly name = 'cider';
  readonly networkWrapper = 'cider_net';

  constructor(
    private readonly args: CiderTrainerArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    return tf.tidy(() => {
      const { embedding } = this.projection(network).forwardProjection(batch.x, true);
      const { dispersion, compactness } = this.prototypeLosses(embedding, batch);
      return tf.add(tf.mul(compactness, this.args.w), dispersion) as tf.Scalar;
    });
  }
}

export const cider = defineComponent({
  kind: 'trainer',
  name: 'cider',
  description:
    'CIDER: compactness + dispersion losses on hypersphere embeddings with EMA prototypes; needs cider_net (wrapped automatically)',
  args: ciderTrainerArgs,
  create: (args, ctx) => new CiderTrainer(args, ctx.rng),
});
