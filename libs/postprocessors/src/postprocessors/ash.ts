import { tf } from '@oodkit/compute';
import { defineComponent, type ScoreBatch, type ScoreResult } from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor } from '../math/base.js';
import { roundHalfEven } from '../math/percentile.js';
import { energyScore, scoreLogits } from '../math/softmax.js';

export const ashArgs = z.strictObject({
  percentile: z.number().min(0).max(100).default(90).describe('prune this percentage of activations'),
});

/** Activations kept by ASH and SCALE: k = n − np.round(n·p/100). */
export function keptCount(n: number, percentile: number): number {
  return n - roundHalfEven((n * percentile) / 100);
}

/**
 * ASH-B (Djurisic et al. 2023), the variant OpenOOD's ASHNet applies: keep the k largest
 * activations of each z, set each to Σz/k, zero the rest; conf = logsumexp of the new logits,
 * pred = their argmax. Ties at the k-th value go to the lower index (tf.topk's order).
 */
export function ashBinarize(features: Tensor2D, percentile: number): Tensor2D {
  return tf.tidy(() => {
    const [n, d] = features.shape;
    const k = keptCount(d, percentile);
    if (k <= 0) return tf.zeros([n, d]) as Tensor2D;
    const fill = tf.div(tf.sum(features, 1, true), k);
    return tf.mul(topKMask(features, k), fill) as Tensor2D;
  });
}

/**
 * 0/1 mask of the k largest entries of each row, exactly k ones even with ties (equal values at the
 * k-th place are taken lowest index first). Built from the k-th value and a running count of ties,
 * so memory stays [N, D] rather than the [N, k, D] of one-hot indices.
 */
export function topKMask(features: Tensor2D, k: number): Tensor2D {
  return tf.tidy(() => {
    const [n] = features.shape;
    const kth = tf.topk(features, k, true).values.slice([0, k - 1], [n, 1]);
    const above = tf.cast(tf.greater(features, kth), 'float32');
    const equal = tf.cast(tf.equal(features, kth), 'float32');
    const room = tf.sub(k, tf.sum(above, 1, true));
    const tieRank = tf.cumsum(equal, 1);
    const keptTies = tf.mul(equal, tf.cast(tf.lessEqual(tieRank, room), 'float32'));
    return tf.add(above, keptTies) as Tensor2D;
  });
}

export class AshPostprocessor extends BasePostprocessor<typeof ashArgs> {
  readonly name = 'ash';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const logits = tf.tidy(() => this.head.logits(ashBinarize(z, this.args.percentile)));
    return scoreLogits(logits, (l) => energyScore(l));
  }
}

export const ashDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'ash',
  description: 'ASH-B: keep the top-k activations set to their mean mass, energy of the new logits',
  args: ashArgs,
  grid: { percentile: [65, 70, 75, 80, 85, 90, 95] },
  create: (args) => new AshPostprocessor(ashArgs, args),
});
