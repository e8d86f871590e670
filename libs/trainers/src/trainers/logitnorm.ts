import { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { crossEntropy } from '../losses.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const logitnormArgs = z.strictObject({ ...optimizerArgs, tau: z.number().positive().default(0.04) });
export type LogitNormArgs = z.infer<typeof logitnormArgs>;

/** ℓ / ((‖ℓ‖₂ + 1e-7)·τ), the LogitNorm loss's input (the reference adds 1e-7 to the norm). */
export function logitNormalize(logits: tf.Tensor2D, tau: number): tf.Tensor2D {
  return tf.tidy(() => tf.div(logits, tf.mul(tf.add(tf.norm(logits, 2, 1, true), 1e-7), tau)) as tf.Tensor2D);
}

/** LogitNorm: cross-entropy on L2-normalised logits scaled by 1/τ. */
export class LogitNormTrainer extends SgdTrainer {
  readonly name = 'logitnorm';

  constructor(
    private readonly args: LogitNormArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    return crossEntropy(logitNormalize(network.forward(batch.x, true), this.args.tau), batch.y);
  }
}

export const logitnorm = defineComponent({
  kind: 'trainer',
  name: 'logitnorm',
  description: 'LogitNorm: CE on ℓ/(‖ℓ‖·τ), τ 0.04',
  args: logitnormArgs,
  create: (args, ctx) => new LogitNormTrainer(args, ctx.rng),
});
