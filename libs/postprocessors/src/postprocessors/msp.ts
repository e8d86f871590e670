import { tf } from '@oodkit/compute';
import { defineComponent, type ScoreBatch, type ScoreResult } from '@oodkit/core';
import type { Tensor1D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor } from '../math/base.js';
import { scoreLogits } from '../math/softmax.js';

export const mspArgs = z.strictObject({});

/** Maximum softmax probability (Hendrycks & Gimpel): conf = max_c softmax(ℓ)_c. */
export class MspPostprocessor extends BasePostprocessor<typeof mspArgs> {
  readonly name = 'msp';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    return scoreLogits(this.head.logits(this.features(batch)), (l) => tf.max(tf.softmax(l), 1) as Tensor1D);
  }
}

export const mspDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'msp',
  description: 'maximum softmax probability',
  args: mspArgs,
  create: (args) => new MspPostprocessor(mspArgs, args),
});
