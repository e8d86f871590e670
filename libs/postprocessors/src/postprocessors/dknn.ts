import { tf } from '@oodkit/compute';
import {
  DataError,
  PENULTIMATE_LAYER,
  type FeatureSplit,
  type PostprocessorSetupData,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  AGGREGATOR_NAMES,
  DEFAULT_AGGREGATOR,
  SCORE_AGGREGATORS,
  type AggregatorName,
  type ScoreAggregator,
} from '../aggregators/index.js';
import { BasePostprocessor, definePostprocessor, requireSplit, type GridFolds } from '../lifecycle/index.js';
import { layerSplit } from '../lifecycle/layered.js';
import { NeighbourBank } from '../math/neighbors.js';
import { argmax } from '../math/softmax.js';

export const dknnArgs = z.strictObject({
  K: z
    .number()
    .int()
    .positive()
    .default(50)
    .describe("rank of the neighbour whose distance is each layer's score (oodeel's `nearest`; capped at the train size)"),
  layers: z
    .array(z.string().min(1))
    .min(1)
    .default([PENULTIMATE_LAYER])
    .describe('feature layers searched, each with its own bank of L2-normalised train features (pooled block features)'),
  aggregator: z
    .enum(AGGREGATOR_NAMES as [AggregatorName, ...AggregatorName[]])
    .default(DEFAULT_AGGREGATOR)
    .describe('fuses the per-layer distances; fitted on the train scores (oodeel)'),
});

/** x / (‖x‖₂ + 1e-10) per row, oodeel's `_l2_normalization`. */
function normalizeRows(x: Tensor2D): Tensor2D {
  return tf.tidy(() => tf.div(x, tf.add(tf.sqrt(tf.sum(tf.square(x), 1, true)), 1e-10)) as Tensor2D);
}

/**
 * Multi-layer deep nearest neighbours, as oodeel's DKNN defines it (Sun et al. 2022 on several
 * layers; OpenOOD has only the single-layer knn, pytorch-ood's KNN is single-layer too): per layer,
 * train features and queries are L2-normalised (x / (‖x‖ + 1e-10)), the layer's OOD score is the
 * squared L2 distance to the K-th nearest train feature (faiss IndexFlatL2), and the layers' scores
 * are fused by the aggregator, fitted on the train split's own scores with K' = max(K, 2)
 * neighbours (oodeel's fit-time rule: the nearest train neighbour of a train row is itself).
 * conf = −(fused score); with one layer, conf = −d²_K (OpenOOD's knn). pred = argmax of the logits.
 */
export class DknnPostprocessor extends BasePostprocessor<typeof dknnArgs> {
  readonly name = 'dknn';
  override readonly requires = ['train'] as const;
  private banks: NeighbourBank[] = [];
  private train?: FeatureSplit;
  private aggregator?: ScoreAggregator;

  get featureLayers(): readonly string[] {
    return this.args.layers;
  }

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    if (new Set(this.args.layers).size !== this.args.layers.length) {
      throw new DataError(`dknn: postprocessor.args.layers lists a layer twice (${this.args.layers.join(', ')})`);
    }
    this.train = train;
    for (const layer of this.args.layers) {
      const split = layerSplit(train, layer);
      const rows = tf.tensor2d(split.features, [split.count, split.dim], 'float32');
      const normed = normalizeRows(rows);
      rows.dispose();
      try {
        this.banks.push(new NeighbourBank(normed, 'neg_squared_l2'));
      } finally {
        normed.dispose();
      }
    }
  }

  /** The aggregator depends on K (its fit scores do): fitted again after every change. */
  protected override async derive(): Promise<void> {
    this.aggregator = undefined;
    if (this.args.layers.length === 1) return;
    const train = this.train!;
    const k = Math.min(Math.max(this.args.K, 2), train.count);
    const perLayer: Float64Array[] = [];
    for (let l = 0; l < this.args.layers.length; l++) {
      const split = layerSplit(train, this.args.layers[l]!);
      const conf = new Float64Array(split.count);
      const rows = 4096;
      for (let start = 0; start < split.count; start += rows) {
        const n = Math.min(rows, split.count - start);
        const q = tf.tensor2d(split.features.subarray(start * split.dim, (start + n) * split.dim), [n, split.dim], 'float32');
        try {
          conf.set(await this.kthScores(l, q, k), start);
        } finally {
          q.dispose();
        }
      }
      perLayer.push(conf);
    }
    const aggregator = SCORE_AGGREGATORS[this.args.aggregator]();
    aggregator.fit(perLayer);
    this.aggregator = aggregator;
  }

  /** −(squared distance to the k-th nearest train row) of every query row of layer `l`. */
  private async kthScores(l: number, queries: Tensor2D, k: number): Promise<Float64Array> {
    const col = tf.tidy(() => {
      const top = this.banks[l]!.topK(normalizeRows(queries), k);
      return top.slice([0, k - 1], [top.shape[0], 1]).reshape([top.shape[0]]);
    });
    try {
      return Float64Array.from(await col.data());
    } finally {
      col.dispose();
    }
  }

  protected override gridFolds(): GridFolds {
    const n = this.train!.count;
    return { K: (k) => Math.min(Number(k), n) };
  }

  protected override releaseState(): void {
    for (const bank of this.banks) bank.dispose();
    this.banks = [];
    this.train = undefined;
    this.aggregator = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const k = Math.min(this.args.K, this.train!.count);
    const perLayer: Float64Array[] = [];
    for (let l = 0; l < this.args.layers.length; l++) {
      const layer = this.args.layers[l]!;
      const q = layer === PENULTIMATE_LAYER ? z : batch.layers?.[layer];
      if (!q) throw new DataError(`dknn: the score batch carries no features of layer '${layer}'`);
      perLayer.push(await this.kthScores(l, q, k));
    }
    const predT = tf.tidy(() => argmax(this.head.logits(z)));
    const pred = Int32Array.from(await predT.data());
    predT.dispose();
    return { pred, conf: this.aggregator ? this.aggregator.aggregate(perLayer) : perLayer[0]! };
  }
}

export const dknnDefinition = definePostprocessor(
  {
    name: 'dknn',
    layersArg: true,
    description: "multi-layer KNN (oodeel's DKNN): K-th neighbour distance per layer, fused by an aggregator",
    args: dknnArgs,
    grid: { K: [50, 100, 200, 500, 1000] },
  },
  DknnPostprocessor,
);
