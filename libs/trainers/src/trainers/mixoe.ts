import { tf } from '@oodkit/compute';
import { UsageError, defineComponent, type Batch, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { crossEntropy, oneHot, softCrossEntropy } from '../losses.js';
import { randomBox, sampleBeta, type Box } from '../optim/random.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';
import { mixTensors, pasteBox } from './mixing.js';

export const mixoeArgs = z.strictObject({
  ...optimizerArgs,
  lambda_oe: z.number().min(0).default(1.0),
  alpha: z.number().positive().default(0.1),
  beta: z.number().positive().default(1.0),
  mix_op: z.enum(['cutmix', 'mixup']).default('cutmix'),
});
export type MixOeArgs = z.infer<typeof mixoeArgs>;

/** The draws of one MixOE step: λ ~ Beta(α, β), then (cutmix) the box, λ re-derived from its area. */
export function drawMixOe(rng: Rng, args: Pick<MixOeArgs, 'alpha' | 'beta' | 'mix_op'>, h: number, w: number): { lam: number; box?: Box } {
  const lam = sampleBeta(rng, args.alpha, args.beta);
  if (args.mix_op === 'mixup') return { lam };
  return randomBox(rng, h, w, lam);
}

/**
 * MixOE (OpenOOD's MixOETrainer): CE on the ID batch + λ_oe·softCE(net(mix(x, x_oe)), λ·onehot(y) + (1−λ)/C).
 * cutmix pastes an outlier box into the ID images; mixup blends them. Two forward passes in training
 * mode (ID, then mixed), as the reference. The first N outliers are used (N = ID batch size).
 */
export class MixOeTrainer extends SgdTrainer {
  readonly name = 'mixoe';
  override readonly needsOutliers = true;
  /** OpenOOD's MixOETrainer restarts its outlier iterator when a batch is shorter than the ID batch. */
  readonly outlierBatches = 'at-least-id' as const;
  /** OpenOOD's MixOETrainer drops the last ID batch of every epoch (a possibly short one). */
  readonly skipsLastBatch = true;

  constructor(
    private readonly args: MixOeArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  protected loss(network: Classifier, batch: Batch, outliers: Batch | undefined): tf.Scalar {
    const [n, h, w] = batch.x.shape;
    if (outliers!.x.shape[0] < n) {
      throw new UsageError(`mixoe: the outlier batch has ${outliers!.x.shape[0]} images, fewer than the ID batch's ${n}`);
    }
    const oe = outliers!.x.shape[0] === n ? outliers!.x : tf.slice(outliers!.x, [0, 0, 0, 0], [n, -1, -1, -1]);
    const idLoss = crossEntropy(network.forward(batch.x, true), batch.y);
    const { lam, box } = drawMixOe(this.rng, this.args, h, w);
    const mixed = box ? pasteBox(batch.x, oe, box) : mixTensors(batch.x, oe, lam);
    const soft = tf.add(tf.mul(oneHot(batch.y, this.numClasses), lam), (1 - lam) / this.numClasses) as tf.Tensor2D;
    const mixedLoss = softCrossEntropy(network.forward(mixed, true), soft);
    return tf.add(idLoss, tf.mul(mixedLoss, this.args.lambda_oe));
  }
}

export const mixoe = defineComponent({
  kind: 'trainer',
  name: 'mixoe',
  description: 'MixOE: mix ID images with outliers (cutmix or mixup), soft targets toward uniform (λ_oe 1, α 0.1, β 1)',
  args: mixoeArgs,
  create: (args, ctx) => new MixOeTrainer(args, ctx.rng),
});
