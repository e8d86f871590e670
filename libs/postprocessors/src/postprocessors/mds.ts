import { tf } from '@oodkit/compute';
import type { PostprocessorSetupData, ScoreBatch, ScoreResult, ScoringModel } from '@oodkit/core';
import type { Tensor1D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { classCentredRows, classMeans, empiricalCovariance } from '../math/covariance.js';
import { SharedPrecisionGaussians } from '../math/gaussian.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const mdsArgs = z.strictObject({});

/**
 * Class-conditional Gaussians with one shared covariance (Lee et al. 2018, feature-only form of
 * OpenOOD v1.5): μ_c = class means of train z, Σ = empirical covariance (bias 1/N) of the
 * class-centred train z, P = pinvh(Σ) as sklearn's EmpiricalCovariance.precision_;
 * conf = max_c −(z − μ_c)ᵀ P (z − μ_c), pred = argmax of the logits.
 */
export class MdsPostprocessor extends BasePostprocessor<typeof mdsArgs> {
  readonly name = 'mds';
  override readonly requires = ['train'] as const;
  private gaussians?: SharedPrecisionGaussians;

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    const c = this.head.numClasses;
    const means = classMeans(train, c);
    const cov = empiricalCovariance(classCentredRows(train, means));
    this.gaussians = new SharedPrecisionGaussians(means, c, cov, train.dim);
  }

  protected override releaseState(): void {
    this.gaussians?.dispose();
    this.gaussians = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const pred = tf.tidy(() => argmax(this.head.logits(z)));
    const conf = tf.tidy(() => tf.neg(tf.min(this.gaussians!.squaredDistances(z), 1)) as Tensor1D);
    return toScoreResult(pred, conf);
  }
}

export const mdsDefinition = definePostprocessor(
  {
    name: 'mds',
    layerwise: true,
    description: 'Mahalanobis distance to the closest class mean, shared covariance of train features',
    args: mdsArgs,
  },
  MdsPostprocessor,
);
