import { symmetricEigen } from '@oodkit/postprocessors';

/** Mean and sample covariance (n − 1, numpy's `np.cov(rowvar=False)`) of `count` rows of `dim` values. */
export interface GaussianMoments {
  readonly dim: number;
  readonly count: number;
  readonly mean: Float64Array;
  /** Row-major [dim, dim]. */
  readonly covariance: Float64Array;
}

export function gaussianMoments(rows: ArrayLike<number>, count: number, dim: number): GaussianMoments {
  if (rows.length !== count * dim) throw new RangeError(`gaussianMoments: expected ${count}×${dim} values, got ${rows.length}`);
  if (count < 2) throw new RangeError(`gaussianMoments: a covariance needs at least 2 rows, got ${count}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) for (let j = 0; j < dim; j++) mean[j]! += rows[i * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j]! /= count;
  const covariance = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < dim; j++) centred[j] = rows[i * dim + j]! - mean[j]!;
    for (let a = 0; a < dim; a++) {
      const ca = centred[a]!;
      if (ca === 0) continue;
      for (let b = a; b < dim; b++) covariance[a * dim + b]! += ca * centred[b]!;
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = covariance[a * dim + b]! / (count - 1);
      covariance[a * dim + b] = v;
      covariance[b * dim + a] = v;
    }
  }
  return { dim, count, mean, covariance };
}

/** The PSD square root of a symmetric matrix (eigenvalues below 0, rounding noise, clipped to 0). */
function symmetricSqrt(matrix: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(0, values[k]!));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k]! * s;
      for (let j = 0; j < n; j++) out[i * n + j]! += vik * vectors[j * n + k]!;
    }
  }
  return out;
}

function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += aik * b[k * n + j]!;
    }
  }
  return out;
}

/**
 * Fréchet distance between the Gaussians N(μ₁, Σ₁) and N(μ₂, Σ₂) (the FID formula):
 * ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^{1/2}.
 * tr (Σ₁Σ₂)^{1/2} is computed as Σ √λᵢ of the symmetric PSD matrix Σ₁^{1/2} Σ₂ Σ₁^{1/2}, which has the
 * eigenvalues of Σ₁Σ₂: two symmetric eigendecompositions instead of a general (complex) sqrtm, so no
 * imaginary parts to discard and no Schur iteration to fail on near-singular covariances.
 */
export function frechetDistance(a: GaussianMoments, b: GaussianMoments): number {
  if (a.dim !== b.dim) throw new RangeError(`frechetDistance: dimensions differ (${a.dim} vs ${b.dim})`);
  const n = a.dim;
  let meanTerm = 0;
  for (let j = 0; j < n; j++) meanTerm += (a.mean[j]! - b.mean[j]!) ** 2;
  let traces = 0;
  for (let j = 0; j < n; j++) traces += a.covariance[j * n + j]! + b.covariance[j * n + j]!;
  const rootA = symmetricSqrt(a.covariance, n);
  const inner = multiply(multiply(rootA, b.covariance, n), rootA, n);
  // symmetrise: rounding leaves the product off-symmetric by ~1e-16 relative
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (inner[i * n + j]! + inner[j * n + i]!);
      inner[i * n + j] = v;
      inner[j * n + i] = v;
    }
  }
  const { values } = symmetricEigen(inner, n);
  let traceRoot = 0;
  for (const v of values) traceRoot += Math.sqrt(Math.max(0, v));
  return meanTerm + traces - 2 * traceRoot;
}
