import { tf } from '@oodkit/compute';
import { DataError, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type ScoringModel } from '@oodkit/core';
import {
  BasePostprocessor,
  argmax,
  definePostprocessor,
  empiricalCovariance,
  requireSplit,
  rowsOf,
  symmetricEigen,
  toScoreResult,
  type GridFolds,
  type SymmetricEigen,
} from '@oodkit/postprocessors';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';

export const necoArgs = z.strictObject({
  dim: z
    .number()
    .int()
    .positive()
    .default(100)
    .describe('number of leading principal components kept (values ≥ the feature dim D keep all D)'),
  max_logit: z
    .boolean()
    .default(false)
    .describe('multiply the ratio by the max logit (the paper does this for every architecture but ResNet)'),
});

/** Standardisation of the ID train features: sklearn's StandardScaler (population std; constant features keep scale 1). */
export interface Standardiser {
  readonly mean: Float64Array;
  readonly scale: Float64Array;
}

/**
 * Scaler + PCA fitted on train features. The correlation matrix is the covariance of the standardised
 * features, so one covariance pass gives both; PCA's own mean of standardised data is 0.
 */
export function fitNeco(features: Float32Array, count: number, dim: number): { scaler: Standardiser; eigen: SymmetricEigen } {
  const cov = empiricalCovariance(rowsOf(features, count, dim));
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) for (let j = 0; j < dim; j++) mean[j] += features[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= count;
  const scale = new Float64Array(dim);
  for (let j = 0; j < dim; j++) {
    const s = Math.sqrt(cov[j * dim + j]);
    scale[j] = s > 0 ? s : 1;
  }
  const corr = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) corr[i * dim + j] = cov[i * dim + j] / (scale[i] * scale[j]);
  return { scaler: { mean, scale }, eigen: symmetricEigen(corr, dim) };
}

/** The leading `k` principal directions (largest eigenvalues first) as a row-major [D, k] matrix. */
export function leadingComponents(eigen: SymmetricEigen, k: number): Float32Array {
  const n = eigen.n;
  const out = new Float32Array(n * k);
  // Eigenvalues ascend: column n − 1 is the first principal direction.
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) out[i * k + c] = eigen.vectors[i * n + (n - 1 - c)];
  return out;
}

/**
 * NECO (Ben Ammar et al., "NECO: NEural Collapse Based Out-of-distribution detection", ICLR 2024):
 * x = StandardScaler(z) fitted on ID train, P = the `dim` leading principal directions of the
 * standardised train features; conf = ‖Pᵀx‖ / ‖x‖ (× max logit when `max_logit`), pred = argmax ℓ.
 * Under neural collapse ID features lie in the span of the class means, OOD features do not, so the
 * ratio is near 1 for ID. A sample at the train mean (x = 0) scores 1: it is as ID as a point can be.
 */
export class NecoPostprocessor extends BasePostprocessor<typeof necoArgs> {
  readonly name = 'neco';
  override readonly requires = ['train'] as const;
  private eigen?: SymmetricEigen;
  private mean?: Tensor1D;
  private scale?: Tensor1D;
  private components?: Tensor2D;

  protected override async fit(model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    const d = model.finalLayer.featureDim;
    if (train.count < 2)
      throw new DataError(`neco: the train split '${train.name}' needs at least 2 samples to fit a PCA, got ${train.count}`);
    const { scaler, eigen } = fitNeco(train.features, train.count, d);
    this.eigen = eigen;
    this.mean = tf.tensor1d(Float32Array.from(scaler.mean), 'float32');
    this.scale = tf.tensor1d(Float32Array.from(scaler.scale), 'float32');
  }

  protected override async derive(): Promise<void> {
    const eigen = this.eigen!;
    const k = Math.min(this.args.dim, eigen.n);
    this.components?.dispose();
    this.components = tf.tensor2d(leadingComponents(eigen, k), [eigen.n, k], 'float32');
  }

  /** `dim` values at or above D keep every component: one grid point. */
  protected override gridFolds(): GridFolds {
    const d = this.eigen!.n;
    return { dim: (k) => Math.min(Number(k), d) };
  }

  protected override releaseState(): void {
    for (const t of [this.mean, this.scale, this.components]) t?.dispose();
    this.mean = this.scale = this.components = undefined;
    this.eigen = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const logits = this.head.logits(z);
    try {
      const pred = argmax(logits);
      const conf = tf.tidy(() => {
        const x = tf.div(tf.sub(z, this.mean!), this.scale!);
        const full = tf.norm(x, 'euclidean', 1);
        const reduced = tf.norm(tf.matMul(x, this.components!), 'euclidean', 1);
        const ratio = tf.where(tf.greater(full, 0), tf.div(reduced, tf.maximum(full, 1e-30)), tf.onesLike(full));
        return (this.args.max_logit ? tf.mul(ratio, tf.max(logits, 1)) : ratio) as Tensor1D;
      });
      return await toScoreResult(pred, conf);
    } finally {
      logits.dispose();
    }
  }
}

export const necoDefinition = definePostprocessor(
  {
    name: 'neco',
    description: 'NECO: norm of the standardised feature inside the leading ID principal subspace over its full norm (neural collapse)',
    args: necoArgs,
    grid: { dim: [10, 50, 100, 200, 300, 400, 500] },
  },
  NecoPostprocessor,
);
