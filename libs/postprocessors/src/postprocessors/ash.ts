import { tf } from '@oodkit/compute';
import type { ScoreBatch, ScoreResult } from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
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
 * 0/1 mask of the k largest entries of each row: exactly k ones, equal values at the k-th place
 * taken lowest index first (tf.topk's order). The kept indices are scattered on the host — cheaper
 * than any tensor formulation that handles ties, and memory stays [N, D].
 */
export function topKMask(features: Tensor2D, k: number): Tensor2D {
  const [n, d] = features.shape;
  const mask = new Float32Array(n * d);
  if (k > 0) {
    const indices = tf.tidy(() => tf.topk(features, k, false).indices);
    const idx = indices.dataSync();
    indices.dispose();
    for (let i = 0; i < n; i++) {
      const o = i * k;
      for (let j = 0; j < k; j++) mask[i * d + idx[o + j]] = 1;
    }
  }
  return tf.tensor2d(mask, [n, d], 'float32');
}

export class AshPostprocessor extends BasePostprocessor<typeof ashArgs> {
  readonly name = 'ash';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const logits = tf.tidy(() => this.head.logits(ashBinarize(z, this.args.percentile)));
    return scoreLogits(logits, (l) => energyScore(l));
  }
}

export const ashDefinition = definePostprocessor(
  {
    name: 'ash',
    description: 'ASH-B: keep the top-k activations set to their mean mass, energy of the new logits',
    args: ashArgs,
    grid: { percentile: [65, 70, 75, 80, 85, 90, 95] },
  },
  AshPostprocessor,
);
