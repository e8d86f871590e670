import { tf } from '@oodkit/compute';
import type { ScoreBatch, ScoreResult } from '@oodkit/core';
import type { Tensor1D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { scoreLogits } from '../math/softmax.js';

export const mlsArgs = z.strictObject({});

/** Maximum logit score (Hendrycks et al. 2022): conf = max_c ℓ_c. */
export class MlsPostprocessor extends BasePostprocessor<typeof mlsArgs> {
  readonly name = 'mls';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    return scoreLogits(this.head.logits(this.features(batch)), (l) => tf.max(l, 1) as Tensor1D);
  }
}

export const mlsDefinition = definePostprocessor(
  {
    name: 'mls',
    description: 'maximum logit',
    args: mlsArgs,
  },
  MlsPostprocessor,
);
