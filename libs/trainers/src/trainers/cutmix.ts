import { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { crossEntropy } from '../losses.js';
import { randomBox, sampleBeta, type Box } from '../optim/random.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';
import { pasteBox } from './mixing.js';

export const cutmixArgs = z.strictObject({
  ...optimizerArgs,
  beta: z.number().min(0).default(1.0),
  cutmix_prob: z.number().min(0).max(1).default(1.0),
});
export type CutMixArgs = z.infer<typeof cutmixArgs>;

export type CutMixDraw = { apply: false } | { apply: true; lam: number; perm: Int32Array; box: Box };

/** The draws of one CutMix step: r ~ U(0,1) decides; then λ ~ Beta(β, β), π, box (as the reference). */
export function drawCutMix(rng: Rng, args: { beta: number; cutmix_prob: number }, n: number, h: number, w: number): CutMixDraw {
  const r = rng.uniform();
  if (!(args.beta > 0 && r < args.cutmix_prob)) return { apply: false };
  const lam0 = sampleBeta(rng, args.beta, args.beta);
  const perm = rng.permutation(n);
  const { box, lam } = randomBox(rng, h, w, lam0);
  return { apply: true, lam, perm, box };
}

/**
 * CutMix (OpenOOD's CutMixTrainer): paste a box from a permuted batch; loss
 * λ·CE(ℓ, y) + (1−λ)·CE(ℓ, y[π]) with λ the kept-area fraction.
 */
export class CutMixTrainer extends SgdTrainer {
  readonly name = 'cutmix';

  constructor(
    private readonly args: CutMixArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    const [n, h, w] = batch.x.shape;
    const draw = drawCutMix(this.rng, this.args, n, h, w);
    if (!draw.apply) return crossEntropy(network.forward(batch.x, true), batch.y);
    const index = tf.tensor1d(draw.perm, 'int32');
    const x = pasteBox(batch.x, tf.gather(batch.x, index), draw.box);
    const logits = network.forward(x, true);
    return tf.add(tf.mul(crossEntropy(logits, batch.y), draw.lam), tf.mul(crossEntropy(logits, tf.gather(batch.y, index)), 1 - draw.lam));
  }
}

export const cutmix = defineComponent({
  kind: 'trainer',
  name: 'cutmix',
  description: 'CutMix: paste a random box from another image, labels mixed by area (β 1, prob 1)',
  args: cutmixArgs,
  create: (args, ctx) => new CutMixTrainer(args, ctx.rng),
});
