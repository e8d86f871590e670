import { tf } from '@oodkit/compute';
import {
  defineComponent,
  type FeatureSplit,
  type Logger,
  type PostprocessorSetupData,
  type Rng,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor, requireSplit } from '../math/base.js';
import { empiricalCovariance, rowsOf } from '../math/covariance.js';
import { symmetricEigen } from '../math/eigen.js';
import { SharedPrecisionGaussians } from '../math/gaussian.js';
import { fitTiedGmm, kmeans } from '../math/mixture.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const gmmArgs = z.strictObject({
  num_clusters: z.number().int().positive().default(10).describe('mixture components (OpenOOD: 10 on the penultimate layer)'),
  pca_dim: z
    .number()
    .int()
    .positive()
    .nullable()
    .default(50)
    .describe("principal directions the features are projected on (OpenOOD 'pca_50'); null keeps all; capped at D"),
});
export type GmmArgs = z.infer<typeof gmmArgs>;

/** ln of float32's 1e-45 (= 2^-149, the smallest denormal): OpenOOD adds 1e-45 to the density before the log. */
export const GMM_LOG_FLOOR = -149 * Math.LN2;

/** Top-`k` principal directions of the train features, V [D, k] row-major (exact eigendecomposition). */
export function principalDirections(split: FeatureSplit, k: number): Float64Array {
  const d = split.dim;
  const { vectors } = symmetricEigen(empiricalCovariance(rowsOf(split.features, split.count, d)), d);
  const v = new Float64Array(d * k);
  // eigenvalues ascending: the last k columns, largest first (sklearn's component order)
  for (let c = 0; c < k; c++) for (let i = 0; i < d; i++) v[i * k + c] = vectors[i * d + (d - 1 - c)]!;
  return v;
}

/** conf = log(Σ_k w_k·exp(−½ d_k) + 2^-149) from squared Mahalanobis distances d [N, K], in log space. */
export function gmmLogDensity(distances: Tensor2D, logWeights: Tensor1D): Tensor1D {
  return tf.tidy(() => {
    const terms = tf.sub(logWeights, tf.mul(distances, 0.5));
    const m = tf.max(terms, 1, true);
    const lse = tf.add(m, tf.log(tf.sum(tf.exp(tf.sub(terms, m)), 1, true))).reshape([distances.shape[0]]);
    // logaddexp(lse, floor): OpenOOD's + 1e-45, without float32's underflow of the density itself
    const hi = tf.maximum(lse, GMM_LOG_FLOOR);
    const lo = tf.minimum(lse, GMM_LOG_FLOOR);
    return tf.add(hi, tf.log1p(tf.exp(tf.sub(lo, hi)))) as Tensor1D;
  });
}

/**
 * OpenOOD's gmm postprocessor on the penultimate features (its configs put weight 1 on that layer
 * with 10 clusters and pca_50): train features projected on their top principal directions (X·V, not
 * centred — OpenOOD multiplies by pca.components_ᵀ), a tied-covariance Gaussian mixture fitted by
 * sklearn's EM from k-means++/Lloyd labels (math/mixture.ts), conf = log(Σ_k w_k exp(−½ d_k(x)) + 1e-45)
 * — the mixture density without its normalising constant, floored as OpenOOD does. pred = argmax ℓ.
 * Differences: the k-means seeds come from the component's Rng (sklearn: RandomState(0)); PCA is the
 * exact eigendecomposition (sklearn switches to randomized SVD, unseeded, above 500×500); the density
 * is summed in log space, so it is not lost to float32 underflow before the floor. Multi-layer GMM
 * (OpenOOD's feature_type_list / alpha_list over a network's feature list) needs per-block features.
 */
export class GmmPostprocessor extends BasePostprocessor<typeof gmmArgs> {
  readonly name = 'gmm';
  override readonly requires = ['train'] as const;
  private train?: FeatureSplit;
  private projection?: Tensor2D;
  private logWeights?: Tensor1D;
  private gaussians?: SharedPrecisionGaussians;
  private emIterations = 0;

  constructor(
    schema: typeof gmmArgs,
    args: GmmArgs,
    private readonly rng: Rng,
    private readonly logger?: Logger,
  ) {
    super(schema, args);
  }

  /** EM iterations of the last fit. */
  get iterations(): number {
    return this.emIterations;
  }

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    this.train = requireSplit(data, 'train', this.name, this.head.featureDim);
  }

  protected override async derive(): Promise<void> {
    this.releaseMixture();
    const train = this.train!;
    const d = train.dim;
    const k = Math.min(this.args.pca_dim ?? d, d);
    const v = principalDirections(train, k);
    const n = train.count;
    const x = new Float64Array(n * k);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += train.features[i * d + j]! * v[j * k + c]!;
        x[i * k + c] = s;
      }
    }
    const clusters = this.args.num_clusters;
    // same stream per derivation: a given (num_clusters, pca_dim) always gets the same seeds
    const labels = kmeans(x, n, k, clusters, this.rng.derive('kmeans')).labels;
    const mixture = fitTiedGmm(x, n, k, labels, clusters);
    if (!mixture.converged) this.logger?.warn(`gmm: EM stopped after ${mixture.iterations} iterations without converging`);
    this.emIterations = mixture.iterations;
    this.projection = tf.tensor2d(Float32Array.from(v), [d, k], 'float32');
    this.logWeights = tf.tensor1d(Float32Array.from(mixture.weights, Math.log), 'float32');
    this.gaussians = new SharedPrecisionGaussians(mixture.means, clusters, mixture.covariance, k);
  }

  private releaseMixture(): void {
    this.projection?.dispose();
    this.logWeights?.dispose();
    this.gaussians?.dispose();
    this.projection = undefined;
    this.logWeights = undefined;
    this.gaussians = undefined;
  }

  protected override releaseState(): void {
    this.releaseMixture();
    this.train = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const pred = tf.tidy(() => argmax(this.head.logits(z)));
    const conf = tf.tidy(() => gmmLogDensity(this.gaussians!.squaredDistances(tf.matMul(z, this.projection!)), this.logWeights!));
    return toScoreResult(pred, conf);
  }
}

export const gmmDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'gmm',
  description: 'log density of a tied-covariance Gaussian mixture on PCA-projected train features (OpenOOD gmm)',
  args: gmmArgs,
  create: (args, ctx) => new GmmPostprocessor(gmmArgs, args, ctx.rng, ctx.logger),
});
