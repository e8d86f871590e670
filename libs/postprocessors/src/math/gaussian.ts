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
  /** μ·A [K, r], one row per component. */
  private readonly projectedMeans: Tensor2D;

  /** `means` row-major [K, D] (float64 host), `covariance` [D, D] (float64 host). */
  constructor(means: Float64Array, numComponents: number, covariance: Float64Array, dim: number) {
    const { factor, rank } = precisionFactor(covariance, dim);
    this.numComponents = numComponents;
    this.dim = dim;
    this.rank = rank;
    this.factor = tf.tensor2d(factor, [dim, Math.max(rank, 1)], 'float32');
    // Projecting the means on the host in float64 keeps their rounding out of the difference.
    const pm = new Float32Array(numComponents * Math.max(rank, 1));
    for (let k = 0; k < numComponents; k++) {
      for (let c = 0; c < rank; c++) {
        let s = 0;
        for (let i = 0; i < dim; i++) s += means[k * dim + i] * factor[i * rank + c];
        pm[k * rank + c] = s;
      }
    }
    this.projectedMeans = tf.tensor2d(pm, [numComponents, Math.max(rank, 1)], 'float32');
  }

  /** Squared Mahalanobis distance of every row of z to every component: [N, K]. */
  squaredDistances(features: Tensor2D): Tensor2D {
    return tf.tidy(() => {
      if (this.rank === 0) return tf.zeros([features.shape[0], this.numComponents]) as Tensor2D;
      const y = tf.matMul(features, this.factor);
      // Direct differences rather than ‖y‖² − 2y·m + ‖m‖², which cancels badly in float32.
      const columns: Tensor1D[] = [];
      for (let k = 0; k < this.numComponents; k++) {
        const m = this.projectedMeans.slice([k, 0], [1, this.rank]);
        columns.push(tf.sum(tf.square(tf.sub(y, m)), 1) as Tensor1D);
      }
      return tf.stack(columns, 1) as Tensor2D;
    });
  }

  dispose(): void {
    this.factor.dispose();
    this.projectedMeans.dispose();
  }
}
