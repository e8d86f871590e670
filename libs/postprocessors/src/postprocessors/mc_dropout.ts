import { tf } from '@oodkit/compute';
import { defineComponent, type Rng, type ScoreBatch, type ScoreResult } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor } from '../math/base.js';
import { scoreLogits } from '../math/softmax.js';
import type { LinearHead } from '../math/head.js';

export const mcDropoutArgs = z.strictObject({
  dropout_p: z.number().min(0).lt(1).default(0.5).describe('probability that a feature is dropped in each pass'),
  dropout_times: z.number().int().positive().default(5).describe('stochastic forward passes averaged'),
});
export type McDropoutArgs = z.infer<typeof mcDropoutArgs>;

/**
 * Mean over `times` passes of head(dropout(z)): each pass keeps every feature with probability 1 − p
 * and scales the kept ones by 1/(1 − p) (torch's dropout), masks drawn by tf.randomUniform from `seed`.
 */
export function meanDropoutLogits(head: LinearHead, features: Tensor2D, p: number, times: number, seed: number): Tensor2D {
  return tf.tidy(() => {
    if (p === 0) return head.logits(features);
    let sum: Tensor2D | undefined;
    for (let t = 0; t < times; t++) {
      const keep = tf.greaterEqual(tf.randomUniform(features.shape, 0, 1, 'float32', seed + t), p);
      const dropped = tf.mul(features, tf.div(tf.cast(keep, 'float32'), 1 - p)) as Tensor2D;
      const logits = head.logits(dropped);
      sum = sum ? (tf.add(sum, logits) as Tensor2D) : logits;
    }
    return tf.div(sum!, times) as Tensor2D;
  });
}

/**
 * Monte-Carlo dropout (Gal & Ghahramani 2016) as OpenOOD's `dropout` postprocessor with its
 * DropoutNet: dropout (p, training mode) on the penultimate feature before the final layer,
 * `dropout_times` passes, conf = max softmax of the *mean logits*, pred = their argmax. Because the
 * dropout sits on z, it runs on feature folders for any network. (OpenOOD calls F.dropout2d on the
 * [N, D] feature; for 2-D input torch applies it elementwise, i.e. plain dropout — checked on torch 1.13.)
 * Masks come from the component's seeded stream, one seed per scored batch: the same seed and the
 * same scoring order (batch size included) give the same numbers.
 */
export class McDropoutPostprocessor extends BasePostprocessor<typeof mcDropoutArgs> {
  readonly name = 'mc_dropout';

  constructor(
    schema: typeof mcDropoutArgs,
    args: McDropoutArgs,
    private readonly rng: Rng,
  ) {
    super(schema, args);
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const { dropout_p: p, dropout_times: times } = this.args;
    const logits = meanDropoutLogits(this.head, this.features(batch), p, times, this.rng.nextSeed());
    return scoreLogits(logits, (l) => tf.max(tf.softmax(l), 1) as Tensor1D);
  }
}

export const mcDropoutDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'mc_dropout',
  description: "MC dropout: max softmax of the mean logits over dropout passes on z (OpenOOD's dropout)",
  args: mcDropoutArgs,
  create: (args, ctx) => new McDropoutPostprocessor(mcDropoutArgs, args, ctx.rng.derive('masks')),
});
