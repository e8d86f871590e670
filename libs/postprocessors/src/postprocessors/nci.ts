import { tf } from '@oodkit/compute';
import type { PostprocessorSetupData, ScoreBatch, ScoreResult, ScoringModel } from '@oodkit/core';
import type { Tensor1D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { columnMeans } from '../math/covariance.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const nciArgs = z.strictObject({
  alpha: z.number().nonnegative().default(0.0001).describe('weight of the L1 feature norm term'),
});

/**
 * Neural-collapse inspired score (NCI, Liu & Qin 2025) as OpenOOD v1.5:
 * conf = ⟨w_pred, z − μ⟩ / ‖z − μ‖ + α‖z‖₁, μ = mean train feature, pred = argmax ℓ
 * (the cosine-like proximity of the centred feature to its class weight, plus a norm filter).
 */
export class NciPostprocessor extends BasePostprocessor<typeof nciArgs> {
  readonly name = 'nci';
  override readonly requires = ['train'] as const;
  private trainMean?: Tensor1D;

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    this.trainMean = tf.tensor1d(Float32Array.from(columnMeans(train.features, train.count, train.dim)), 'float32');
  }

  protected override releaseState(): void {
    this.trainMean?.dispose();
    this.trainMean = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const pred = tf.tidy(() => argmax(this.head.logits(z)));
    const conf = tf.tidy(() => {
      const centred = tf.sub(z, this.trainMean!);
      const proj = tf.div(tf.sum(tf.mul(tf.gather(this.head.weight, pred), centred), 1), tf.norm(centred, 'euclidean', 1));
      return tf.add(proj, tf.mul(tf.sum(tf.abs(z), 1), this.args.alpha)) as Tensor1D;
    });
    return toScoreResult(pred, conf);
  }
}

export const nciDefinition = definePostprocessor(
  {
    name: 'nci',
    description: 'alignment of the centred feature with its predicted class weight plus α·L1 feature norm',
    args: nciArgs,
    grid: { alpha: [0.0001, 0.001, 0.01, 0.1] },
  },
  NciPostprocessor,
);
