import { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { crossEntropy } from '../losses.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const energyOeArgs = z.strictObject({
  ...optimizerArgs,
  alpha: z.number().min(0).default(0.1).describe('weight of the energy regulariser (Liu et al.: 0.1)'),
  m_in: z.number().default(-25).describe('energy margin of ID samples: E above it is penalised (Liu et al., CIFAR-10: −25)'),
  m_out: z.number().default(-7).describe('energy margin of outliers: E below it is penalised (Liu et al., CIFAR-10: −7)'),
  reduction: z
    .enum(['separate', 'joint'])
    .default('separate')
    .describe(
      "'separate': CE mean over ID + α·(mean over ID + mean over outliers), the paper's and wetliu/energy_ood's; 'joint': one mean over [ID; outliers] of per-sample CE (0 for outliers) + α·penalty, pytorch-ood's EnergyRegularizedLoss",
    ),
});
export type EnergyOeArgs = z.infer<typeof energyOeArgs>;

/** E(x) = −logsumexp(ℓ) per row. */
function energy(logits: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.logSumExp(logits, 1)) as tf.Tensor1D);
}

/**
 * Energy-regularised outlier exposure (Liu et al., NeurIPS 2020, "Energy-based Out-of-distribution
 * Detection", fine-tuning objective; pytorch-ood's EnergyRegularizedLoss): one training forward of
 * [ID; outliers] as OpenOOD's OE, CE on ID plus α·(max(0, E_in − m_in)² and max(0, m_out − E_out)²).
 * The defaults are the paper's CIFAR-10 values; pytorch-ood's (α 1, margins −1) are one config away.
 */
export class EnergyOeTrainer extends SgdTrainer {
  readonly name = 'energy_oe';
  override readonly needsOutliers = true;

  constructor(
    private readonly args: EnergyOeArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  protected loss(network: Classifier, batch: Batch, outliers: Batch | undefined): tf.Scalar {
    return tf.tidy(() => {
      const n = batch.x.shape[0];
      const logits = network.forward(tf.concat([batch.x, outliers!.x], 0), true);
      const id = tf.slice(logits, [0, 0], [n, -1]) as tf.Tensor2D;
      const ood = tf.slice(logits, [n, 0], [-1, -1]) as tf.Tensor2D;
      const inPenalty = tf.square(tf.relu(tf.sub(energy(id), this.args.m_in)));
      const outPenalty = tf.square(tf.relu(tf.sub(this.args.m_out, energy(ood))));
      const { alpha } = this.args;
      if (this.args.reduction === 'separate') {
        return tf.add(crossEntropy(id, batch.y), tf.mul(tf.add(tf.mean(inPenalty), tf.mean(outPenalty)), alpha)) as tf.Scalar;
      }
      const total = logits.shape[0];
      const idSum = tf.add(tf.mul(crossEntropy(id, batch.y), n), tf.mul(tf.sum(inPenalty), alpha));
      return tf.div(tf.add(idSum, tf.mul(tf.sum(outPenalty), alpha)), total) as tf.Scalar;
    });
  }
}

export const energyOe = defineComponent({
  kind: 'trainer',
  name: 'energy_oe',
  description: 'energy-regularised OE (Liu et al. 2020): CE + α·squared hinge on the energies of ID (> m_in) and outliers (< m_out)',
  args: energyOeArgs,
  create: (args, ctx) => new EnergyOeTrainer(args, ctx.rng),
});
