import { relationKernelPower, tf, wasmRelationBank, type WasmRelationBank } from '@oodkit/compute';
import type { PostprocessorSetupData, ScoreBatch, ScoreResult, ScoringModel } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { blockProduct } from '../math/neighbors.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const relationArgs = z.strictObject({
  pow: z.number().positive().default(1).describe('exponent applied to each kept edge of the relation graph'),
});

/** Edges at or below this weight are dropped (OpenOOD's `thres`, fixed at 0.03). */
export const RELATION_EDGE_THRESHOLD = 0.03;

/** z / sqrt(Σz² + 1e-10), the relation code's normaliser. */
export function relationNormalize(x: Tensor2D): Tensor2D {
  return tf.tidy(() => tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-10))) as Tensor2D);
}

/**
 * Neural relation graph (Kim et al. 2023) score as OpenOOD v1.5: edge weight between a query and
 * a train sample = max(⟨ẑ, ẑ_t⟩, 0) · ⟨p, p_t⟩ (ẑ normalised features, p softmax probabilities);
 * conf = Σ over train samples of weight^pow for the edges with weight > 0.03 (weights are ≥ 0,
 * so OpenOOD's sign(·)|·|^pow is the plain power). Exact, blocked over the train set. On the wasm
 * backend with an integer pow the products and the thresholded power sum run fused in oodkit's
 * kernel (`wasmRelationBank`, float64 sums); otherwise as tfjs ops on transposed train blocks.
 */
export class RelationPostprocessor extends BasePostprocessor<typeof relationArgs> {
  readonly name = 'relation';
  override readonly requires = ['train'] as const;
  /** Train blocks held transposed ([D, n] and [C, n]) for `blockProduct`. */
  private blocks: { feat: Tensor2D; prob: Tensor2D }[] = [];
  /** The packed train set of the wasm kernel, when it is used. */
  private kernelBank?: WasmRelationBank;
  /** Tests: false forces the tfjs path. */
  useKernel = true;
  /** The train split fitted on (kept by reference for the tfjs path's blocks). */
  private train?: { features: Float32Array; count: number; dim: number };

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    this.train = { features: train.features, count: train.count, dim: train.dim };
    if (this.useKernel) {
      const [feat, prob] = tf.tidy(() => {
        const zt = tf.tensor2d(train.features, [train.count, train.dim], 'float32');
        return [relationNormalize(zt), tf.softmax(this.head.logits(zt), -1) as Tensor2D];
      });
      try {
        this.kernelBank = wasmRelationBank(
          feat.dataSync() as Float32Array,
          prob.dataSync() as Float32Array,
          train.count,
          train.dim,
          prob.shape[1],
        );
      } finally {
        feat.dispose();
        prob.dispose();
      }
    }
    if (!this.kernelBank) this.buildBlocks();
  }

  /** The transposed train blocks of the tfjs path (built at fit, or at the first non-integer pow). */
  private buildBlocks(): void {
    const train = this.train!;
    const blockRows = 8192;
    for (let start = 0; start < train.count; start += blockRows) {
      const n = Math.min(blockRows, train.count - start);
      const block = tf.tidy(() => {
        const zt = tf.tensor2d(train.features.subarray(start * train.dim, (start + n) * train.dim), [n, train.dim], 'float32');
        return {
          feat: relationNormalize(zt).transpose() as Tensor2D,
          prob: (tf.softmax(this.head.logits(zt), -1) as Tensor2D).transpose() as Tensor2D,
        };
      });
      this.blocks.push(block);
    }
  }

  protected override releaseState(): void {
    this.kernelBank?.dispose();
    this.kernelBank = undefined;
    for (const b of this.blocks) {
      b.feat.dispose();
      b.prob.dispose();
    }
    this.blocks = [];
    this.train = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const logits = this.head.logits(z);
    try {
      const pred = argmax(logits);
      if (this.kernelBank && relationKernelPower(this.args.pow)) {
        const [feat, prob] = tf.tidy(() => [relationNormalize(z), tf.softmax(logits, -1) as Tensor2D]);
        let sums: Float64Array;
        try {
          sums = this.kernelBank.sum(
            feat.dataSync() as Float32Array,
            prob.dataSync() as Float32Array,
            z.shape[0],
            this.args.pow,
            RELATION_EDGE_THRESHOLD,
          );
        } catch (error) {
          pred.dispose();
          throw error;
        } finally {
          feat.dispose();
          prob.dispose();
        }
        const p = await pred.data();
        pred.dispose();
        return { pred: Int32Array.from(p), conf: sums };
      }
      if (this.blocks.length === 0) this.buildBlocks();
      const conf = tf.tidy(() => {
        const feat = relationNormalize(z);
        const prob = tf.softmax(logits, -1) as Tensor2D;
        const n = z.shape[0];
        const chunk = 512;
        const parts: Tensor1D[] = [];
        for (let start = 0; start < n; start += chunk) {
          const size = Math.min(chunk, n - start);
          const f = feat.slice([start, 0], [size, feat.shape[1]]);
          const p = prob.slice([start, 0], [size, prob.shape[1]]);
          let acc: Tensor1D = tf.zeros([size]);
          for (const b of this.blocks) {
            const next = tf.tidy(() => {
              const rel = tf.mul(tf.relu(blockProduct(f, b.feat)), blockProduct(p, b.prob));
              const kept = tf.where(tf.greater(rel, RELATION_EDGE_THRESHOLD), tf.pow(rel, this.args.pow), tf.zerosLike(rel));
              return tf.add(acc, tf.sum(kept, 1)) as Tensor1D;
            });
            acc.dispose();
            acc = next;
          }
          parts.push(acc);
        }
        return (parts.length === 1 ? parts[0] : tf.concat(parts, 0)) as Tensor1D;
      });
      return await toScoreResult(pred, conf);
    } finally {
      logits.dispose();
    }
  }
}

export const relationDefinition = definePostprocessor(
  {
    name: 'relation',
    description: 'sum of thresholded feature-and-prediction similarity edges to the train set (neural relation graph)',
    args: relationArgs,
    grid: { pow: [1, 2, 4, 6, 8] },
  },
  RelationPostprocessor,
);
