import { tf } from '@oodkit/compute';
import type { ScoreBatch, ScoreResult } from '@oodkit/core';
import type { Tensor1D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { scoreLogits } from '../math/softmax.js';

export const mspArgs = z.strictObject({});

/** Maximum softmax probability (Hendrycks & Gimpel): conf = max_c softmax(ℓ)_c. */
export class MspPostprocessor extends BasePostprocessor<typeof mspArgs> {
  readonly name = 'msp';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    return scoreLogits(this.head.logits(this.features(batch)), (l) => tf.max(tf.softmax(l), 1) as Tensor1D);
  }
}

export const mspDefinition = definePostprocessor(
  {
    name: 'msp',
    description: 'maximum softmax probability',
    args: mspArgs,
  },
  MspPostprocessor,
);
