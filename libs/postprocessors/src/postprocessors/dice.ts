import { tf } from '@oodkit/compute';
import type { PostprocessorSetupData, ScoreBatch, ScoreResult, ScoringModel } from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { columnMeans } from '../math/covariance.js';
import { percentile } from '../math/percentile.js';
import { energyScore, scoreLogits } from '../math/softmax.js';

export const diceArgs = z.strictObject({
  p: z.number().min(0).max(100).default(90).describe('sparsity: weights whose contribution is at or below this percentile are dropped'),
});

/**
 * DICE's mask (Sun & Li 2022, OpenOOD's form): contribution V = m ⊙ W with m the mean train feature
 * (float32 products, as numpy multiplies float32 arrays), threshold = np.percentile over all C·D
 * entries of V, keep W where V > threshold (strictly). Returns the masked Wᵀ [D, C] and the count kept.
 */
export function diceMaskedWeightT(
  weight: Float32Array,
  numClasses: number,
  dim: number,
  meanFeature: Float64Array,
  p: number,
): { weightT: Float32Array; kept: number } {
  const contrib = new Float32Array(numClasses * dim);
  for (let c = 0; c < numClasses; c++) {
    for (let j = 0; j < dim; j++) contrib[c * dim + j] = Math.fround(Math.fround(meanFeature[j]) * weight[c * dim + j]);
  }
  const threshold = percentile(contrib, p, 'dice contributions');
  const weightT = new Float32Array(dim * numClasses);
  let kept = 0;
  for (let c = 0; c < numClasses; c++) {
    for (let j = 0; j < dim; j++) {
      if (contrib[c * dim + j] > threshold) {
        weightT[j * numClasses + c] = weight[c * dim + j];
        kept++;
      }
    }
  }
  return { weightT, kept };
}

/** DICE: energy of logits from the sparsified final layer z·(W ⊙ mask)ᵀ + b; re-masked when p changes. */
export class DicePostprocessor extends BasePostprocessor<typeof diceArgs> {
  readonly name = 'dice';
  override readonly requires = ['train'] as const;
  private weight?: Float32Array;
  private meanFeature?: Float64Array;
  private maskedT?: Tensor2D;
  private keptCount = 0;

  /** Number of weights the current mask keeps. */
  get kept(): number {
    return this.keptCount;
  }

  protected override async fit(model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    this.weight = model.finalLayer.weight;
    this.meanFeature = columnMeans(train.features, train.count, train.dim);
  }

  protected override async derive(): Promise<void> {
    const { numClasses, featureDim } = this.head;
    const { weightT, kept } = diceMaskedWeightT(this.weight!, numClasses, featureDim, this.meanFeature!, this.args.p);
    this.maskedT?.dispose();
    this.maskedT = tf.tensor2d(weightT, [featureDim, numClasses], 'float32');
    this.keptCount = kept;
  }

  protected override releaseState(): void {
    this.maskedT?.dispose();
    this.maskedT = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    return scoreLogits(this.head.logitsWith(z, this.maskedT!), (l) => energyScore(l));
  }
}

export const diceDefinition = definePostprocessor(
  {
    name: 'dice',
    description: 'DICE: energy after masking final-layer weights with small mean contribution',
    args: diceArgs,
    grid: { p: [90] },
  },
  DicePostprocessor,
);
