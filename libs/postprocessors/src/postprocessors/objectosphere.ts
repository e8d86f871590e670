import { tf } from '@oodkit/compute';
import type { ScoreBatch, ScoreResult } from '@oodkit/core';
import type { Tensor1D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { scoreLogits } from '../math/softmax.js';

export const objectosphereArgs = z.strictObject({});

/**
 * The objectosphere score (Dhamija et al. 2018; pytorch-ood's `ObjectosphereLoss.score`, negated
 * because pytorch-ood returns outlier scores): conf = max_c softmax(ℓ)_c · ‖ℓ‖₂, the confidence
 * scaled by the logit magnitude the objectosphere trainer drives to 0 for unknowns.
 */
export class ObjectospherePostprocessor extends BasePostprocessor<typeof objectosphereArgs> {
  readonly name = 'objectosphere';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    return scoreLogits(
      this.head.logits(this.features(batch)),
      (l) => tf.mul(tf.max(tf.softmax(l), 1), tf.norm(l, 'euclidean', 1)) as Tensor1D,
    );
  }
}

export const objectosphereDefinition = definePostprocessor(
  {
    name: 'objectosphere',
    description: "objectosphere score: max softmax × ‖logits‖₂ (pytorch-ood's ObjectosphereLoss.score, negated)",
    args: objectosphereArgs,
  },
  ObjectospherePostprocessor,
);
