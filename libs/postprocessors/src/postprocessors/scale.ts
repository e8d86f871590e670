import { tf } from '@oodkit/compute';
import type { ScoreBatch, ScoreResult } from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { energyScore, scoreLogits } from '../math/softmax.js';
import { keptCount } from './ash.js';

export const scaleArgs = z.strictObject({
  percentile: z.number().min(0).max(100).default(85).describe('the top-k sum keeps 100 − percentile % of activations'),
});

/**
 * SCALE (Xu et al. 2024): z·exp(Σz / Σ top-k z) with k = n − round(n·p/100); conf = logsumexp of
 * the new logits, pred = their argmax. A zero top-k sum (all-zero z) leaves z unscaled instead of
 * producing NaN.
 */
export function scaleFeatures(features: Tensor2D, percentile: number): Tensor2D {
  return tf.tidy(() => {
    const d = features.shape[1];
    const k = keptCount(d, percentile);
    const s1 = tf.sum(features, 1, true);
    const s2 = k > 0 ? tf.sum(tf.topk(features, k, false).values, 1, true) : tf.zerosLike(s1);
    const ratio = tf.where(tf.equal(s2, 0), tf.zerosLike(s1), tf.div(s1, s2));
    return tf.mul(features, tf.exp(ratio)) as Tensor2D;
  });
}

export class ScalePostprocessor extends BasePostprocessor<typeof scaleArgs> {
  readonly name = 'scale';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const logits = tf.tidy(() => this.head.logits(scaleFeatures(z, this.args.percentile)));
    return scoreLogits(logits, (l) => energyScore(l));
  }
}

export const scaleDefinition = definePostprocessor(
  {
    name: 'scale',
    description: 'SCALE: features scaled by exp(sum / top-k sum), energy of the new logits',
    args: scaleArgs,
    grid: { percentile: [65, 70, 75, 80, 85, 90, 95] },
  },
  ScalePostprocessor,
);
