import { tf } from '@oodkit/compute';
import { defineComponent, type ScoreBatch, type ScoreResult } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor } from '../math/base.js';
import { roundHalfEven } from '../math/percentile.js';
import { energyScore, scoreLogits } from '../math/softmax.js';

export const ltsArgs = z.strictObject({
  p: z.number().gt(0).max(1).default(0.05).describe('fraction of the largest activations in the temperature T(z) = (Σz / Σ top-p z)²'),
});

/** Activations in LTS's top sum: k = max(1, round(D·p)), Python's round (half to even), as pytorch-ood. */
export function ltsTopCount(d: number, p: number): number {
  return Math.max(1, roundHalfEven(d * p));
}

/**
 * Per-sample temperature T(z) = (Σ_i z_i / Σ_{top-k} z_j)². A zero top-k sum (an all-zero feature,
 * where pytorch-ood divides 0/0) gives T = 1, leaving the logits unscaled.
 */
export function ltsTemperature(features: Tensor2D, p: number): Tensor1D {
  return tf.tidy(() => {
    const k = ltsTopCount(features.shape[1], p);
    const s1 = tf.sum(features, 1);
    const s2 = tf.sum(tf.topk(features, k, false).values, 1);
    const zero = tf.equal(s2, 0);
    return tf.where(zero, tf.onesLike(s1), tf.square(tf.div(s1, tf.where(zero, tf.onesLike(s2), s2)))) as Tensor1D;
  });
}

/**
 * Logit scaling (LTS, Djurisic et al. 2024) as pytorch-ood's `LTS`: conf = logsumexp(ℓ / T(z)), the
 * energy of the logits divided by a temperature computed from the penultimate features alone (no
 * fitting). OpenOOD has no LTS. pred = argmax of the scaled logits, which is argmax ℓ (T > 0).
 */
export class LtsPostprocessor extends BasePostprocessor<typeof ltsArgs> {
  readonly name = 'lts';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const scaled = tf.tidy(() => tf.div(this.head.logits(z), tf.expandDims(ltsTemperature(z, this.args.p), 1)) as Tensor2D);
    return scoreLogits(scaled, (l) => energyScore(l));
  }
}

export const ltsDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'lts',
  description: 'LTS: energy of the logits divided by the feature temperature (Σz / Σ top-p z)²',
  args: ltsArgs,
  grid: { p: [0.01, 0.02, 0.05, 0.1, 0.2] },
  create: (args) => new LtsPostprocessor(ltsArgs, args),
});
