import { tf } from '@oodkit/compute';
import type { PostprocessorSetupData, ScoreBatch, ScoreResult, ScoringModel } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { columnMeans } from '../math/covariance.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const fdbdArgs = z.strictObject({
  distance_as_normalizer: z.boolean().default(true).describe('divide by ‖z − mean train z‖ (true) or by ‖z‖ (false)'),
});

/**
 * 1/‖w_c − w_p‖ for every predicted class p (rows) and class c (columns), with the diagonal set to
 * 1 as OpenOOD does (its numerator is 0 there). float64 host → float32 tensor [C, C].
 */
export function inverseBoundaryDenominators(weight: ArrayLike<number>, c: number, d: number): Float32Array {
  const out = new Float32Array(c * c);
  for (let p = 0; p < c; p++) {
    for (let k = 0; k < c; k++) {
      if (k === p) {
        out[p * c + k] = 1;
        continue;
      }
      let s = 0;
      for (let j = 0; j < d; j++) s += (weight[k * d + j] - weight[p * d + j]) ** 2;
      out[p * c + k] = 1 / Math.sqrt(s);
    }
  }
  return out;
}

/**
 * Feature distance to decision boundaries (fDBD, Liu & Qin 2024) as OpenOOD v1.5:
 * conf = Σ_c |ℓ_c − ℓ_pred| / ‖w_c − w_pred‖ divided by ‖z − μ_train‖ (or ‖z‖). OpenOOD sums over
 * classes where the paper averages over the C − 1 others; the constant factor is kept as OpenOOD.
 */
export class FdbdPostprocessor extends BasePostprocessor<typeof fdbdArgs> {
  readonly name = 'fdbd';
  override readonly requires = ['train'] as const;
  private invDen?: Tensor2D;
  private trainMean?: Tensor1D;

  protected override async fit(model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    const { numClasses: c, featureDim: d, weight } = model.finalLayer;
    this.trainMean = tf.tensor1d(Float32Array.from(columnMeans(train.features, train.count, d)), 'float32');
    this.invDen = tf.tensor2d(inverseBoundaryDenominators(weight, c, d), [c, c], 'float32');
  }

  protected override releaseState(): void {
    this.invDen?.dispose();
    this.trainMean?.dispose();
    this.invDen = this.trainMean = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const logits = this.head.logits(z);
    try {
      const pred = argmax(logits);
      const conf = tf.tidy(() => {
        const gap = tf.abs(tf.sub(logits, tf.max(logits, 1, true)));
        const distSum = tf.sum(tf.mul(gap, tf.gather(this.invDen!, pred)), 1);
        const norm = this.args.distance_as_normalizer ? tf.norm(tf.sub(z, this.trainMean!), 'euclidean', 1) : tf.norm(z, 'euclidean', 1);
        return tf.div(distSum, norm) as Tensor1D;
      });
      return await toScoreResult(pred, conf);
    } finally {
      logits.dispose();
    }
  }
}

export const fdbdDefinition = definePostprocessor(
  {
    name: 'fdbd',
    description: 'summed feature-space distance to the decision boundaries, normalised by the distance to the train mean',
    args: fdbdArgs,
    grid: { distance_as_normalizer: [true, false] },
  },
  FdbdPostprocessor,
);
