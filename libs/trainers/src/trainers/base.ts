import type { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type Classifier } from '@oodkit/core';
import { crossEntropy } from '../losses.js';
import { SgdTrainer, baseTrainerArgs } from './sgd-trainer.js';

/** OpenOOD's BaseTrainer: cross-entropy. */
export class BaseTrainer extends SgdTrainer {
  readonly name = 'base';

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    return crossEntropy(network.forward(batch.x, true), batch.y);
  }
}

export const base = defineComponent({
  kind: 'trainer',
  name: 'base',
  description: 'cross-entropy; SGD Nesterov 0.9, weight decay 5e-4, lr 0.1, cosine per step to 1e-6',
  args: baseTrainerArgs,
  create: (args, ctx) => new BaseTrainer(args, ctx.rng),
});
