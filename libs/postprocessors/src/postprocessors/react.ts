import { tf } from '@oodkit/compute';
import type { FeatureSplit, PostprocessorSetupData, ScoreBatch, ScoreResult, ScoringModel } from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { percentile } from '../math/percentile.js';
import { energyScore, scoreLogits } from '../math/softmax.js';

export const reactArgs = z.strictObject({
  percentile: z.number().min(0).max(100).default(90).describe('clip z at this percentile of all ID val activations'),
});

/**
 * ReAct (Sun et al. 2021): threshold = np.percentile over every activation of the ID val features
 * (flattened), z clipped from above at it, conf = logsumexp of the recomputed logits, pred = their
 * argmax. The threshold is re-derived whenever the percentile changes.
 */
export class ReactPostprocessor extends BasePostprocessor<typeof reactArgs> {
  readonly name = 'react';
  override readonly requires = ['val'] as const;
  private val?: FeatureSplit;
  private clip = Infinity;

  /** The current clipping threshold (float32, as the clip compares float32 activations). */
  get threshold(): number {
    return this.clip;
  }

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    this.val = requireSplit(data, 'val', this.name, this.head.featureDim);
  }

  protected override async derive(): Promise<void> {
    this.clip = Math.fround(percentile(this.val!.features, this.args.percentile, `${this.name} val activations`));
  }

  protected override releaseState(): void {
    this.val = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const t = this.clip;
    const logits = tf.tidy(() => this.head.logits(tf.minimum(z, t) as Tensor2D));
    return scoreLogits(logits, (l) => energyScore(l));
  }
}

export const reactDefinition = definePostprocessor(
  {
    name: 'react',
    description: 'energy after clipping features at a percentile of ID validation activations',
    args: reactArgs,
    grid: { percentile: [85, 90, 95, 99] },
  },
  ReactPostprocessor,
);
