import { tf } from '@oodkit/compute';
import type { PostprocessorSetupData, ScoreBatch, ScoreResult, ScoringModel } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit, type GridFolds } from '../lifecycle/index.js';
import { l2Normalize, NeighbourBank } from '../math/neighbors.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const knnArgs = z.strictObject({
  K: z.number().int().positive().default(50).describe('rank of the neighbour whose distance is the score (capped at the train size)'),
});

/**
 * Deep nearest neighbours (Sun et al. 2022) as OpenOOD v1.5 computes it: train features and the
 * query are L2-normalised, faiss IndexFlatL2 returns *squared* L2 distances, and
 * conf = −(squared distance to the K-th nearest train feature). Exact search by blocked matmul on
 * the active backend. pred = argmax of the logits.
 *
 * Generic over its args schema (any schema with knn's `K`) so that the training-coupled scores that
 * are this same search (cider, npos) subclass it and override only what differs (`predict`).
 */
export class KnnPostprocessor<S extends z.ZodObject<{ K: typeof knnArgs.shape.K }> = typeof knnArgs> extends BasePostprocessor<S> {
  readonly name: string = 'knn';
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

  /** The K actually used: OpenOOD's grid reaches 1000, a small train split may hold fewer rows. */
  get effectiveK(): number {
    const { K } = this.args as { K: number };
    return Math.min(K, this.bank?.count ?? K);
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

  /** The class prediction of a batch: argmax of the logits. */
  protected predict(z: Tensor2D): Tensor1D {
    return tf.tidy(() => argmax(this.head.logits(z)));
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const k = this.effectiveK;
    const pred = this.predict(z);
    const conf = tf.tidy(() => {
      const top = this.bank!.topK(l2Normalize(z), k);
      // top holds −d² sorted descending; column k−1 is the K-th nearest.
      return top.slice([0, k - 1], [top.shape[0], 1]).reshape([top.shape[0]]) as Tensor1D;
    });
    return toScoreResult(pred, conf);
  }
}

export const knnDefinition = definePostprocessor(
  {
    name: 'knn',
    layerwise: true,
    description: 'negative squared distance to the K-th nearest L2-normalised train feature (exact)',
    args: knnArgs,
    grid: { K: [50, 100, 200, 500, 1000] },
  },
  KnnPostprocessor,
);
