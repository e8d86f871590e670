import { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { oneHot } from '../losses.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const objectosphereArgs = z.strictObject({
  ...optimizerArgs,
  alpha: z.number().min(0).default(1).describe('weight of the feature-magnitude term (pytorch-ood: 1)'),
  xi: z.number().positive().default(1).describe('minimum feature magnitude ξ of known samples (pytorch-ood: 1)'),
});
export type ObjectosphereArgs = z.infer<typeof objectosphereArgs>;

/**
 * Objectosphere (Dhamija et al., NeurIPS 2018, "Reducing Network Agnostophobia"; pytorch-ood's
 * ObjectosphereLoss): with the outlier batch as the unknowns, the mean over [ID; outliers] of the
 * entropic open-set loss (CE for known samples, −mean_c log softmax_c for unknowns) plus
 * α·(max(0, ξ − ‖z‖)² for known, ‖z‖² for unknown), z the penultimate feature. One training forward
 * of both, as OpenOOD's OE.
 */
export class ObjectosphereTrainer extends SgdTrainer {
  readonly name = 'objectosphere';
  override readonly needsOutliers = true;

  constructor(
    private readonly args: ObjectosphereArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  protected loss(network: Classifier, batch: Batch, outliers: Batch | undefined): tf.Scalar {
    return tf.tidy(() => {
      const n = batch.x.shape[0];
      const { logits, features } = network.forwardFeatures(tf.concat([batch.x, outliers!.x], 0), true);
      const total = logits.shape[0];
      const logProb = tf.logSoftmax(logits);
      const known = tf.concat([tf.ones([n]), tf.zeros([total - n])]);
      const unknown = tf.sub(1, known);
      // labels of the unknown rows are irrelevant (masked); pad with class 0
      const labels = tf.concat([tf.cast(batch.y, 'int32'), tf.zeros([total - n], 'int32')]) as tf.Tensor1D;
      const crossEntropy = tf.neg(tf.sum(tf.mul(oneHot(labels, logits.shape[1]), logProb), 1));
      const entropic = tf.add(tf.mul(known, crossEntropy), tf.mul(unknown, tf.neg(tf.mean(logProb, 1))));
      // √max(Σz², 1e-30): the norm with PyTorch's zero gradient at z = 0 (tf.norm's would be NaN)
      const squared = tf.sum(tf.square(features), 1);
      const magnitude = tf.sqrt(tf.maximum(squared, 1e-30));
      const penalty = tf.add(tf.mul(known, tf.square(tf.relu(tf.sub(this.args.xi, magnitude)))), tf.mul(unknown, squared));
      return tf.mean(tf.add(entropic, tf.mul(penalty, this.args.alpha))) as tf.Scalar;
    });
  }
}

export const objectosphere = defineComponent({
  kind: 'trainer',
  name: 'objectosphere',
  description: 'objectosphere (Dhamija et al. 2018): entropic open-set loss + α·feature-magnitude hinge (known ≥ ξ, outliers → 0)',
  args: objectosphereArgs,
  create: (args, ctx) => new ObjectosphereTrainer(args, ctx.rng),
});
