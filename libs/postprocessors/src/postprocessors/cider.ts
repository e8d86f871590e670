import { tf } from '@oodkit/compute';
import type { PostprocessorSetupData, ScoreBatch, ScoreResult, ScoringModel } from '@oodkit/core';
import type { Tensor1D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor, definePostprocessor, requireSplit, type GridFolds } from '../lifecycle/index.js';
import { l2Normalize, NeighbourBank } from '../math/neighbors.js';
import { toScoreResult } from '../math/softmax.js';

export const ciderArgs = z.strictObject({
  K: z.number().int().positive().default(50).describe('rank of the neighbour whose distance is the score (capped at the train size)'),
});

/**
 * CIDER's score (Ming et al., ICLR 2023; OpenOOD's CIDERPostprocessor): KNN on the L2-normalised
 * penultimate feature z of the network (OpenOOD's `intermediate_forward`, not the projection):
 * conf = −(squared L2 distance to the K-th nearest normalised train feature), faiss IndexFlatL2's
 * squared distances, exact here. CIDER trains no classifier, so OpenOOD returns a dummy pred of 0
 * for every sample; so does this (the classifier's ACC is reported separately).
 */
export class CiderPostprocessor extends BasePostprocessor<typeof ciderArgs> {
  readonly name: string = 'cider';
  override readonly requires = ['train'] as const;
  private bank?: NeighbourBank;

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    const raw = tf.tensor2d(train.features, [train.count, train.dim], 'float32');
    const normed = l2Normalize(raw);
    raw.dispose();
    try {
      this.bank = new NeighbourBank(normed, 'neg_squared_l2');
    } finally {
      normed.dispose();
    }
  }

  get effectiveK(): number {
    return Math.min(this.args.K, this.bank?.count ?? this.args.K);
  }

  /** K values ≥ the train size all mean "the farthest train feature": one grid point. */
  protected override gridFolds(): GridFolds {
    const n = this.bank!.count;
    return { K: (k) => Math.min(Number(k), n) };
  }

  protected override releaseState(): void {
    this.bank?.dispose();
    this.bank = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const k = this.effectiveK;
    const n = z.shape[0];
    const conf = tf.tidy(() => {
      const top = this.bank!.topK(l2Normalize(z), k);
      return top.slice([0, k - 1], [n, 1]).reshape([n]) as Tensor1D;
    });
    return toScoreResult(tf.zeros([n], 'int32') as Tensor1D, conf);
  }
}

export const ciderDefinition = definePostprocessor(
  {
    name: 'cider',
    description: 'CIDER: negative squared distance to the K-th nearest normalised train feature z; pred 0 (CIDER trains no classifier)',
    args: ciderArgs,
    grid: { K: [50, 100, 200, 500, 1000] },
  },
  CiderPostprocessor,
);
