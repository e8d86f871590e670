import { tf } from '@oodkit/compute';
import type { ScoreBatch, ScoreResult } from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { energyScore, scoreLogits } from '../math/softmax.js';
import { ashPrune } from './ash_p.js';

export const ashSArgs = z.strictObject({
  percentile: z.number().min(0).max(100).default(90).describe('prune this percentage of activations'),
});

/** ASH-S: prune as ASH-P, then scale what is left by exp(s₁/s₂), s₁ = Σz before and s₂ = Σz after pruning. */
export function ashSharpen(features: Tensor2D, percentile: number): Tensor2D {
  return tf.tidy(() => {
    const pruned = ashPrune(features, percentile);
    const scale = tf.exp(tf.div(tf.sum(features, 1, true), tf.sum(pruned, 1, true)));
    return tf.mul(pruned, scale) as Tensor2D;
  });
}

/**
 * ASH-S (Djurisic et al., ICLR 2023), the rescaling variant, as pytorch-ood's `ASH(variant='ash-s')`
 * (src/pytorch_ood/detector/ash.py `ash_s`); OpenOOD ships only ASH-B (`ash`), and its `scale` is
 * the same factor without the pruning. Applied to z: conf = logsumexp of the new logits, pred = their
 * argmax. Percentile in % and grid as OpenOOD's ash.
 */
export class AshSPostprocessor extends BasePostprocessor<typeof ashSArgs> {
  readonly name = 'ash_s';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const logits = tf.tidy(() => this.head.logits(ashSharpen(z, this.args.percentile)));
    return scoreLogits(logits, (l) => energyScore(l));
  }
}

export const ashSDefinition = definePostprocessor(
  {
    name: 'ash_s',
    description: 'ASH-S: keep the top-k activations of z scaled by exp(Σz / Σkept), energy of the new logits',
    args: ashSArgs,
    grid: { percentile: [65, 70, 75, 80, 85, 90, 95] },
  },
  AshSPostprocessor,
);
