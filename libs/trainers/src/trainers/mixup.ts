import { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { oneHot, softCrossEntropy } from '../losses.js';
import { sampleBeta } from '../optim/random.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';
import { mixTensors } from './mixing.js';

export const mixupArgs = z.strictObject({ ...optimizerArgs, alpha: z.number().min(0).default(0.2) });
export type MixupArgs = z.infer<typeof mixupArgs>;

/** The draws of one mixup step, in the order the trainer takes them from its stream. */
export function drawMixup(rng: Rng, alpha: number, batchSize: number): { lam: number; perm: Int32Array } {
  const lam = alpha > 0 ? sampleBeta(rng, alpha, alpha) : 1;
  return { lam, perm: rng.permutation(batchSize) };
}

/**
 * Mixup (OpenOOD's MixupTrainer): x̃ = λx + (1−λ)x[π], soft CE against λ·onehot(y) + (1−λ)·onehot(y[π]),
 * λ ~ Beta(α, α).
 */
export class MixupTrainer extends SgdTrainer {
  readonly name = 'mixup';

  constructor(
    private readonly args: MixupArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    const { lam, perm } = drawMixup(this.rng, this.args.alpha, batch.x.shape[0]);
    const index = tf.tensor1d(perm, 'int32');
    const x = mixTensors(batch.x, tf.gather(batch.x, index), lam);
    const target = oneHot(batch.y, this.numClasses);
    const soft = mixTensors(target, tf.gather(target, index), lam);
    return softCrossEntropy(network.forward(x, true), soft);
  }
}

export const mixup = defineComponent({
  kind: 'trainer',
  name: 'mixup',
  description: 'mixup: convex combinations of image pairs and their one-hot labels, λ ~ Beta(α, α), α 0.2',
  args: mixupArgs,
  create: (args, ctx) => new MixupTrainer(args, ctx.rng),
});
