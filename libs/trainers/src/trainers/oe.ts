import { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { crossEntropy, uniformCrossEntropy } from '../losses.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const oeArgs = z.strictObject({ ...optimizerArgs, lambda_oe: z.number().min(0).default(0.5) });
export type OeArgs = z.infer<typeof oeArgs>;

/**
 * Outlier Exposure (OpenOOD's OETrainer): one forward pass over [ID; outliers] in training mode (so
 * batch-norm statistics cover both), CE on the ID part + λ·(cross-entropy to uniform) on the rest.
 */
export class OeTrainer extends SgdTrainer {
  readonly name = 'oe';
  override readonly needsOutliers = true;

  constructor(
    private readonly args: OeArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  protected loss(network: Classifier, batch: Batch, outliers: Batch | undefined): tf.Scalar {
    const n = batch.x.shape[0];
    const logits = network.forward(tf.concat([batch.x, outliers!.x], 0), true);
    const id = tf.slice(logits, [0, 0], [n, -1]);
    const ood = tf.slice(logits, [n, 0], [-1, -1]);
    return tf.add(crossEntropy(id, batch.y), tf.mul(uniformCrossEntropy(ood), this.args.lambda_oe));
  }
}

export const oe = defineComponent({
  kind: 'trainer',
  name: 'oe',
  description: 'Outlier Exposure: CE + λ·CE-to-uniform on an outlier batch, one joint forward pass (λ 0.5)',
  args: oeArgs,
  create: (args, ctx) => new OeTrainer(args, ctx.rng),
});
