import { tf } from '@oodkit/compute';
import { ConfigError, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type ScoringModel } from '@oodkit/core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { percentile } from '../math/percentile.js';
import { energyScore, scoreLogits } from '../math/softmax.js';

export const vraArgs = z.strictObject({
  percentile_high: z.number().min(0).max(100).default(90).describe('upper clip at this percentile of ID val activations'),
  percentile_low: z.number().min(0).max(100).default(10).describe('lower clip at this percentile of ID val activations'),
});

/**
 * Variational rectified activations (VRA, Xu et al. 2023) in OpenOOD v1.5's form: clip z into
 * [np.percentile(val z, low), np.percentile(val z, high)] (all val activations flattened), recompute
 * the logits and score their energy logsumexp(ℓ); pred = argmax of the clipped logits. Thresholds are
 * re-derived whenever a percentile changes.
 */
export class VraPostprocessor extends BasePostprocessor<typeof vraArgs> {
  readonly name = 'vra';
  override readonly requires = ['val'] as const;
  private activations?: Float32Array;
  private low = 0;
  private high = 0;

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    this.activations = requireSplit(data, 'val', this.name, this.head.featureDim).features;
  }

  protected override async derive(): Promise<void> {
    const { percentile_low: lo, percentile_high: hi } = this.args;
    if (lo > hi) {
      throw new ConfigError([{ path: 'postprocessor.args.percentile_low', message: `must not exceed percentile_high (${lo} > ${hi})` }]);
    }
    this.high = percentile(this.activations!, hi, 'vra val activations');
    this.low = percentile(this.activations!, lo, 'vra val activations');
  }

  /** The current clip interval [low, high]. */
  get thresholds(): { low: number; high: number } {
    return { low: this.low, high: this.high };
  }

  protected override releaseState(): void {
    this.activations = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const clipped = tf.clipByValue(z, this.low, this.high);
    try {
      return await scoreLogits(this.head.logits(clipped), (l) => energyScore(l));
    } finally {
      clipped.dispose();
    }
  }
}

export const vraDefinition = definePostprocessor(
  {
    name: 'vra',
    description: 'energy after clipping activations between a low and a high percentile of ID val activations',
    args: vraArgs,
    grid: { percentile_high: [85, 90, 95, 99], percentile_low: [1, 5, 10, 15] },
  },
  VraPostprocessor,
);
