import { gramPanelIndex, wasmGramAccumulator } from '@oodkit/compute';
import { DataError, type FeatureSplit } from '@oodkit/core';
import { symmetricEigen, type SymmetricEigen } from './eigen.js';

/** Column means of row-major rows [count, dim], accumulated in float64. */
export function columnMeans(rows: ArrayLike<number>, count: number, dim: number): Float64Array {
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    const o = i * dim;
    for (let j = 0; j < dim; j++) mean[j] += rows[o + j];
  }
  for (let j = 0; j < dim; j++) mean[j] /= count;
  return mean;
}

/** Rows produced on demand, so centred copies of 50k×512 features never have to exist in memory. */
export interface RowSource {
  readonly count: number;
  readonly dim: number;
  /** Write row i (float64) into out[0..dim). */
  read(i: number, out: Float64Array): void;
}

/** Row-major rows [count, dim] as a RowSource. */
export function rowsOf(rows: ArrayLike<number>, count: number, dim: number): RowSource {
  return {
    count,
    dim,
    read(i, out) {
      const o = i * dim;
      for (let j = 0; j < dim; j++) out[j] = rows[o + j];
    },
  };
}

/** Features minus their class mean (the pooled within-class scatter's input). */
export function classCentredRows(split: FeatureSplit, means: Float64Array): RowSource {
  const { dim, count, features, labels } = split;
  return {
    count,
    dim,
    read(i, out) {
      const o = i * dim;
      const m = labels[i] * dim;
      for (let j = 0; j < dim; j++) out[j] = features[o + j] - means[m + j];
    },
  };
}

/**
 * Empirical covariance (1/N) Σ (x − m)(x − m)ᵀ in float64 — sklearn's EmpiricalCovariance
 * (assume_centered=False), which is np.cov(X.T, bias=1): the mean is removed again even when the
 * caller already centred the rows. Returns a full symmetric [dim, dim] row-major matrix.
 */
export function empiricalCovariance(source: RowSource): Float64Array {
  const { count, dim } = source;
  if (count === 0) throw new DataError('covariance: no samples');
  const row = new Float64Array(dim);
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    source.read(i, row);
    for (let j = 0; j < dim; j++) mean[j] += row[j];
  }
  for (let j = 0; j < dim; j++) mean[j] /= count;
  return scatterAbout(source, mean);
}

/**
 * (1/N) Σ (x − c)(x − c)ᵀ about a given centre c, in float64 (sklearn's EmpiricalCovariance with
 * assume_centered=True on x − c). A full symmetric [dim, dim] row-major matrix.
 */
export function scatterAbout(source: RowSource, centre: ArrayLike<number>): Float64Array {
  const { count, dim } = source;
  if (count === 0) throw new DataError('covariance: no samples');
  // The feature count is padded to a multiple of 4; the Gram is accumulated over the upper
  // triangle of 4×4 tiles, on the wasm heap with f64x2 SIMD and the kernel pool's threads where the
  // backend is wasm (≈10× the JavaScript loop at D = 512), else in JavaScript register tiles.
  const dimP = Math.ceil(dim / 4) * 4;
  const row = new Float64Array(dim);
  const wasm = wasmGramAccumulator(dimP, 256);
  let acc: Float64Array;
  if (wasm) {
    try {
      for (let start = 0; start < count; start += wasm.blockRows) {
        const b = Math.min(wasm.blockRows, count - start);
        const rows = wasm.rows();
        const stride = 4 * wasm.blockRows;
        const full = dim & ~3;
        for (let r = 0; r < b; r++) {
          source.read(start + r, row);
          // panels of 4 features (gramPanelIndex), written without a call per value
          let o = gramPanelIndex(wasm.blockRows, r, 0);
          let j = 0;
          for (; j < full; j += 4, o += stride) {
            rows[o] = row[j] - centre[j];
            rows[o + 1] = row[j + 1] - centre[j + 1];
            rows[o + 2] = row[j + 2] - centre[j + 2];
            rows[o + 3] = row[j + 3] - centre[j + 3];
          }
          if (j < dimP) for (let a = 0; a < 4; a++) rows[o + a] = j + a < dim ? row[j + a] - centre[j + a] : 0;
        }
        wasm.add(b);
      }
      acc = wasm.read();
    } finally {
      wasm.dispose();
    }
  } else {
    // Rows centred into a float64 block stored feature-major (each feature's values contiguous).
    acc = new Float64Array(dimP * dimP);
    const block = Math.max(1, Math.min(count, 256));
    const cols = new Float64Array(dimP * block);
    for (let start = 0; start < count; start += block) {
      const b = Math.min(block, count - start);
      if (b < block) cols.fill(0);
      for (let r = 0; r < b; r++) {
        source.read(start + r, row);
        for (let j = 0; j < dim; j++) cols[j * block + r] = row[j] - centre[j];
      }
      gramTiles(cols, block, b, dimP, acc);
    }
  }
  const cov = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = acc[i * dimP + j] / count;
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  }
  return cov;
}

/** acc[i, j] += Σ_r cols[i, r]·cols[j, r] for 4×4 tiles with tile-row ≤ tile-column. */
function gramTiles(cols: Float64Array, stride: number, b: number, dimP: number, acc: Float64Array): void {
  for (let i = 0; i < dimP; i += 4) {
    const a0 = i * stride;
    const a1 = a0 + stride;
    const a2 = a1 + stride;
    const a3 = a2 + stride;
    for (let j = i; j < dimP; j += 4) {
      const b0 = j * stride;
      const b1 = b0 + stride;
      const b2 = b1 + stride;
      const b3 = b2 + stride;
      let s00 = 0,
        s01 = 0,
        s02 = 0,
        s03 = 0;
      let s10 = 0,
        s11 = 0,
        s12 = 0,
        s13 = 0;
      let s20 = 0,
        s21 = 0,
        s22 = 0,
        s23 = 0;
      let s30 = 0,
        s31 = 0,
        s32 = 0,
        s33 = 0;
      for (let r = 0; r < b; r++) {
        const x0 = cols[a0 + r];
        const x1 = cols[a1 + r];
        const x2 = cols[a2 + r];
        const x3 = cols[a3 + r];
        const y0 = cols[b0 + r];
        const y1 = cols[b1 + r];
        const y2 = cols[b2 + r];
        const y3 = cols[b3 + r];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
        s20 += x2 * y0;
        s21 += x2 * y1;
        s22 += x2 * y2;
        s23 += x2 * y3;
        s30 += x3 * y0;
        s31 += x3 * y1;
        s32 += x3 * y2;
        s33 += x3 * y3;
      }
      let o = i * dimP + j;
      acc[o] += s00;
      acc[o + 1] += s01;
      acc[o + 2] += s02;
      acc[o + 3] += s03;
      o += dimP;
      acc[o] += s10;
      acc[o + 1] += s11;
      acc[o + 2] += s12;
      acc[o + 3] += s13;
      o += dimP;
      acc[o] += s20;
      acc[o + 1] += s21;
      acc[o + 2] += s22;
      acc[o + 3] += s23;
      o += dimP;
      acc[o] += s30;
      acc[o + 1] += s31;
      acc[o + 2] += s32;
      acc[o + 3] += s33;
    }
  }
}

/**
 * Eigenvalue cutoff of scipy.linalg.pinvh (used by sklearn for `precision_`): eigenvalues with
 * |λ| ≤ max|λ| · n · eps(float64) are treated as zero.
 */
export function pinvhCutoff(eigen: SymmetricEigen): number {
  let maxAbs = 0;
  for (const v of eigen.values) maxAbs = Math.max(maxAbs, Math.abs(v));
  return maxAbs * eigen.n * Number.EPSILON;
}

/** Pseudo-inverse of a symmetric matrix (scipy.linalg.pinvh with default tolerances). */
export function pinvh(matrix: ArrayLike<number>, n: number): Float64Array {
  const eig = symmetricEigen(matrix, n);
  const cutoff = pinvhCutoff(eig);
  const out = new Float64Array(n * n);
  const { values, vectors } = eig;
  for (let k = 0; k < n; k++) {
    const lambda = values[k];
    if (!(Math.abs(lambda) > cutoff)) continue;
    const inv = 1 / lambda;
    for (let i = 0; i < n; i++) {
      const vi = vectors[i * n + k] * inv;
      if (vi === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += vi * vectors[j * n + k];
    }
  }
  return out;
}

/**
 * A factor A [dim, rank] with A·Aᵀ = pinvh(Σ): A = U_r · diag(λ_r^{-1/2}) over the eigenvalues that
 * pinvh keeps. Mahalanobis distances then become Euclidean distances of x·A, which costs N·D·r
 * once instead of N·D² per class. Covariances are PSD, so only positive kept eigenvalues occur;
 * a negative one above the cutoff means the input was not a covariance.
 */
export function precisionFactor(covariance: ArrayLike<number>, dim: number): { factor: Float32Array; rank: number } {
  const eig = symmetricEigen(covariance, dim);
  const cutoff = pinvhCutoff(eig);
  const kept: number[] = [];
  for (let k = 0; k < dim; k++) {
    const lambda = eig.values[k];
    if (Math.abs(lambda) > cutoff) {
      if (lambda < 0) throw new DataError(`covariance has a negative eigenvalue ${lambda}; it is not positive semi-definite`);
      kept.push(k);
    }
  }
  const rank = kept.length;
  const factor = new Float32Array(dim * Math.max(rank, 1));
  kept.forEach((k, col) => {
    const s = 1 / Math.sqrt(eig.values[k]);
    for (let i = 0; i < dim; i++) factor[i * rank + col] = eig.vectors[i * dim + k] * s;
  });
  return { factor, rank };
}

/** Per-class means of labelled features; every class must have at least one sample. */
export function classMeans(split: FeatureSplit, numClasses: number): Float64Array {
  const { dim, count, features, labels } = split;
  const sums = new Float64Array(numClasses * dim);
  const counts = new Float64Array(numClasses);
  for (let i = 0; i < count; i++) {
    const y = labels[i];
    if (y < 0 || y >= numClasses || !Number.isInteger(y)) {
      throw new DataError(`split '${split.name}': label ${y} of sample ${i} is not an ID class in [0, ${numClasses})`);
    }
    counts[y]++;
    const o = i * dim;
    const s = y * dim;
    for (let j = 0; j < dim; j++) sums[s + j] += features[o + j];
  }
  const missing: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    if (counts[c] === 0) {
      missing.push(c);
      continue;
    }
    for (let j = 0; j < dim; j++) sums[c * dim + j] /= counts[c];
  }
  if (missing.length > 0) {
    throw new DataError(
      `split '${split.name}': class${missing.length > 1 ? 'es' : ''} ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''} ` +
        `ha${missing.length > 1 ? 've' : 's'} no samples; class-conditional statistics need every class`,
    );
  }
  return sums;
}
