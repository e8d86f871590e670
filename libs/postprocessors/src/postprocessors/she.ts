import { tf } from '@oodkit/compute';
import { DataError, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type ScoringModel } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { hostLogits } from '../math/head.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const sheArgs = z.strictObject({
  metric: z
    .enum(['inner_product', 'euclidean', 'cosine'])
    .default('inner_product')
    .describe('similarity between z and the stored pattern of its predicted class'),
});

/**
 * Per-class mean of the train features that the model classifies correctly (label = argmax ℓ),
 * float64 on the host. A class without one correct sample has no pattern: OpenOOD would score NaN.
 */
export function correctClassMeans(
  features: Float32Array,
  labels: Int32Array,
  logits: Float32Array,
  count: number,
  dim: number,
  c: number,
  split = 'train',
): Float64Array {
  const sums = new Float64Array(c * dim);
  const counts = new Float64Array(c);
  for (let i = 0; i < count; i++) {
    const y = labels[i];
    let best = 0;
    for (let j = 1; j < c; j++) if (logits[i * c + j] > logits[i * c + best]) best = j;
    if (y !== best) continue;
    counts[y]++;
    for (let j = 0; j < dim; j++) sums[y * dim + j] += features[i * dim + j];
  }
  const empty: number[] = [];
  for (let k = 0; k < c; k++) {
    if (counts[k] === 0) empty.push(k);
    else for (let j = 0; j < dim; j++) sums[k * dim + j] /= counts[k];
  }
  if (empty.length > 0) {
    throw new DataError(
      `split '${split}': no correctly classified sample of class${empty.length > 1 ? 'es' : ''} ${empty.slice(0, 10).join(', ')}; the method needs one per class`,
    );
  }
  return sums;
}

/**
 * Simplified Hopfield energy (SHE, Zhang et al. 2023) as OpenOOD v1.5: the stored pattern of class c
 * is the mean train feature of the samples correctly classified as c; conf = similarity of z to the
 * pattern of its predicted class — ⟨z, m_pred⟩ by default, −‖z − m_pred‖ or cosine as options.
 */
export class ShePostprocessor extends BasePostprocessor<typeof sheArgs> {
  readonly name = 'she';
  override readonly requires = ['train'] as const;
  private patterns?: Tensor2D;

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    const c = this.head.numClasses;
    const logits = hostLogits(this.head, train.features, train.count);
    const means = correctClassMeans(train.features, train.labels, logits, train.count, train.dim, c, train.name);
    this.patterns = tf.tensor2d(Float32Array.from(means), [c, train.dim], 'float32');
  }

  protected override releaseState(): void {
    this.patterns?.dispose();
    this.patterns = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const pred = tf.tidy(() => argmax(this.head.logits(z)));
    const conf = tf.tidy(() => {
      const m = tf.gather(this.patterns!, pred);
      switch (this.args.metric) {
        case 'euclidean':
          return tf.neg(tf.sqrt(tf.sum(tf.square(tf.sub(z, m)), 1))) as Tensor1D;
        case 'cosine': {
          // torch.cosine_similarity: x·y / max(‖x‖·‖y‖, 1e-8)
          const denom = tf.maximum(tf.mul(tf.norm(z, 'euclidean', 1), tf.norm(m, 'euclidean', 1)), 1e-8);
          return tf.div(tf.sum(tf.mul(z, m), 1), denom) as Tensor1D;
        }
        default:
          return tf.sum(tf.mul(z, m), 1) as Tensor1D;
      }
    });
    return toScoreResult(pred, conf);
  }
}

export const sheDefinition = definePostprocessor(
  {
    name: 'she',
    description: 'inner product of z with the mean correctly-classified train feature of its predicted class',
    args: sheArgs,
  },
  ShePostprocessor,
);
