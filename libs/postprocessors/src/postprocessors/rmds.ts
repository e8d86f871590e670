import { tf } from '@oodkit/compute';
import type { PostprocessorSetupData, ScoreBatch, ScoreResult, ScoringModel } from '@oodkit/core';
import type { Tensor1D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { classCentredRows, classMeans, columnMeans, empiricalCovariance, rowsOf } from '../math/covariance.js';
import { SharedPrecisionGaussians } from '../math/gaussian.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const rmdsArgs = z.strictObject({});

/**
 * Relative Mahalanobis distance (Ren et al. 2021) as OpenOOD v1.5 computes it: the MDS class
 * Gaussians plus one background Gaussian of all train z (mean μ₀, its own covariance, pinvh);
 * conf = max_c [−d_c(z) + d₀(z)], with d the squared Mahalanobis distances. pred = argmax logits.
 */
export class RmdsPostprocessor extends BasePostprocessor<typeof rmdsArgs> {
  readonly name = 'rmds';
  override readonly requires = ['train'] as const;
  private classes?: SharedPrecisionGaussians;
  private background?: SharedPrecisionGaussians;

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    const c = this.head.numClasses;
    const means = classMeans(train, c);
    this.classes = new SharedPrecisionGaussians(means, c, empiricalCovariance(classCentredRows(train, means)), train.dim);
    const whole = columnMeans(train.features, train.count, train.dim);
    this.background = new SharedPrecisionGaussians(
      whole,
      1,
      empiricalCovariance(rowsOf(train.features, train.count, train.dim)),
      train.dim,
    );
  }

  protected override releaseState(): void {
    this.classes?.dispose();
    this.background?.dispose();
    this.classes = undefined;
    this.background = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const pred = tf.tidy(() => argmax(this.head.logits(z)));
    const conf = tf.tidy(() => {
      const dc = this.classes!.squaredDistances(z);
      const d0 = this.background!.squaredDistances(z);
      return tf.max(tf.sub(d0, dc), 1) as Tensor1D;
    });
    return toScoreResult(pred, conf);
  }
}

export const rmdsDefinition = definePostprocessor(
  {
    name: 'rmds',
    layerwise: true,
    description: 'relative Mahalanobis distance: class Gaussians minus a class-agnostic background Gaussian',
    args: rmdsArgs,
  },
  RmdsPostprocessor,
);
