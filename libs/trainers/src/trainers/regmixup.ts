import { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { crossEntropy } from '../losses.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';
import { drawMixup } from './mixup.js';
import { mixTensors } from './mixing.js';

export const regmixupArgs = z.strictObject({ ...optimizerArgs, alpha: z.number().min(0).default(20) });
export type RegMixupArgs = z.infer<typeof regmixupArgs>;

/**
 * RegMixup (OpenOOD's RegMixupTrainer): one forward pass over [x; mixup(x)], loss
 * λ·CE(ℓ, [y; y]) + (1−λ)·CE(ℓ, [y; y[π]]) — plain CE on the clean half plus mixup CE as a regulariser,
 * averaged over all 2N samples; λ ~ Beta(α, α) with α 20.
 */
export class RegMixupTrainer extends SgdTrainer {
  readonly name = 'regmixup';

  constructor(
    private readonly args: RegMixupArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    const { lam, perm } = drawMixup(this.rng, this.args.alpha, batch.x.shape[0]);
    const index = tf.tensor1d(perm, 'int32');
    const mixed = mixTensors(batch.x, tf.gather(batch.x, index), lam);
    const logits = network.forward(tf.concat([batch.x, mixed], 0), true);
    const targetsA = tf.concat([batch.y, batch.y], 0);
    const targetsB = tf.concat([batch.y, tf.gather(batch.y, index)], 0);
    return tf.add(tf.mul(crossEntropy(logits, targetsA), lam), tf.mul(crossEntropy(logits, targetsB), 1 - lam));
  }
}

export const regmixup = defineComponent({
  kind: 'trainer',
  name: 'regmixup',
  description: 'RegMixup: CE on clean images + mixup CE as a regulariser, one joint pass (α 20)',
  args: regmixupArgs,
  create: (args, ctx) => new RegMixupTrainer(args, ctx.rng),
});
