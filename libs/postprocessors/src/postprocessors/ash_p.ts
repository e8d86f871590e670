import { tf } from '@oodkit/compute';
import type { ScoreBatch, ScoreResult } from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { energyScore, scoreLogits } from '../math/softmax.js';
import { keptCount, topKMask } from './ash.js';

export const ashPArgs = z.strictObject({
  percentile: z.number().min(0).max(100).default(90).describe('prune this percentage of activations'),
});

/** ASH-P: the k = n − round(n·p/100) largest activations of each z kept as they are, the rest zeroed. */
export function ashPrune(features: Tensor2D, percentile: number): Tensor2D {
  return tf.tidy(() => tf.mul(features, topKMask(features, Math.max(0, keptCount(features.shape[1], percentile)))) as Tensor2D);
}

/**
 * ASH-P (Djurisic et al., ICLR 2023), the prune-only variant, as pytorch-ood's `ASH(variant='ash-p')`
 * (src/pytorch_ood/detector/ash.py `ash_p`); OpenOOD ships only ASH-B (`ash`). Applied to z, as `ash`:
 * conf = logsumexp of the logits of the pruned z (pytorch-ood's default EnergyBased), pred = their
 * argmax. Percentile in % and grid as OpenOOD's ash.
 */
export class AshPPostprocessor extends BasePostprocessor<typeof ashPArgs> {
  readonly name = 'ash_p';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const logits = tf.tidy(() => this.head.logits(ashPrune(z, this.args.percentile)));
    return scoreLogits(logits, (l) => energyScore(l));
  }
}

export const ashPDefinition = definePostprocessor(
  {
    name: 'ash_p',
    description: 'ASH-P: keep the top-k activations of z unchanged, zero the rest, energy of the new logits',
    args: ashPArgs,
    grid: { percentile: [65, 70, 75, 80, 85, 90, 95] },
  },
  AshPPostprocessor,
);
