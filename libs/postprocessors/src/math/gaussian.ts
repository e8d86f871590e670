import { tf } from '@oodkit/compute';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { precisionFactor } from './covariance.js';

/**
 * Gaussians that share one precision matrix P = pinvh(Σ), held as the factor A (A·Aᵀ = P) so that
 * (z − μ)ᵀP(z − μ) = ‖(z − μ)·A‖². Scores work on the backend in float32, as OpenOOD's torch code does.
 */
export class SharedPrecisionGaussians {
  readonly numComponents: number;
  readonly dim: number;
  readonly rank: number;
  /** A [D, r]. */
  private readonly factor: Tensor2D;
  /** Centroid c of the means [D]. */
  private readonly centre: Tensor1D;
  /** ((μ − c)·A)ᵀ [r, K]. */
  private readonly projectedMeansT: Tensor2D;
  /** ‖(μ − c)·A‖² [K]. */
  private readonly meanNorms: Tensor1D;

  /** `means` row-major [K, D] (float64 host), `covariance` [D, D] (float64 host). */
  constructor(means: Float64Array, numComponents: number, covariance: Float64Array, dim: number) {
    const { factor, rank } = precisionFactor(covariance, dim);
    this.numComponents = numComponents;
    this.dim = dim;
    this.rank = rank;
    const r = Math.max(rank, 1);
    this.factor = tf.tensor2d(factor, [dim, r], 'float32');
    // Everything is measured from the centroid of the means: the expansion ‖y‖² − 2y·m + ‖m‖² then
    // cancels far less in float32 (its error scales with the norms, not with the distance).
    const centre = new Float64Array(dim);
    for (let k = 0; k < numComponents; k++) for (let i = 0; i < dim; i++) centre[i] += means[k * dim + i] / numComponents;
    this.centre = tf.tensor1d(Float32Array.from(centre), 'float32');
    // Projected means on the host in float64 keep their own rounding out of the difference.
    const pm = new Float32Array(numComponents * r);
    const norms = new Float32Array(numComponents);
    for (let k = 0; k < numComponents; k++) {
      let nk = 0;
      for (let c = 0; c < rank; c++) {
        let s = 0;
        for (let i = 0; i < dim; i++) s += (means[k * dim + i] - centre[i]) * factor[i * rank + c];
        pm[k * r + c] = s;
        nk += s * s;
      }
      norms[k] = nk;
    }
    this.projectedMeansT = tf.tidy(() => tf.tensor2d(pm, [numComponents, r], 'float32').transpose());
    this.meanNorms = tf.tensor1d(norms, 'float32');
  }

  /** Squared Mahalanobis distance of every row of z to every component: [N, K]. */
  squaredDistances(features: Tensor2D): Tensor2D {
    return tf.tidy(() => {
      if (this.rank === 0) return tf.zeros([features.shape[0], this.numComponents]) as Tensor2D;
      const y = tf.matMul(tf.sub(features, this.centre), this.factor);
      const cross = tf.matMul(y, this.projectedMeansT);
      const d = tf.add(tf.sub(tf.sum(tf.square(y), 1, true), tf.mul(cross, 2)), this.meanNorms);
      // distances are ≥ 0; rounding of the expansion must not make them negative
      return tf.relu(d) as Tensor2D;
    });
  }

  dispose(): void {
    this.factor.dispose();
    this.centre.dispose();
    this.projectedMeansT.dispose();
    this.meanNorms.dispose();
  }
}
