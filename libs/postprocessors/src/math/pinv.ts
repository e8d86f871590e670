import { pinvh } from './covariance.js';

/**
 * pinv(W)·b for a row-major W [rows, cols] in float64: the minimum-norm least-squares solution of
 * W·x = b. Computed through the smaller Gram matrix (W·Wᵀ when rows ≤ cols, else Wᵀ·W) and its
 * pseudo-inverse pinvh, so only a min(rows, cols)² symmetric eigenproblem is solved:
 *   rows ≤ cols: x = Wᵀ (W Wᵀ)⁺ b;  rows > cols: x = (Wᵀ W)⁺ Wᵀ b.
 * numpy's pinv (SVD, rcond 1e-15) keeps singular values that the Gram route cannot resolve
 * (σ² below n·eps·σ²_max); for a full-rank final layer the two agree to rounding.
 */
export function pinvTimes(weight: ArrayLike<number>, rows: number, cols: number, b: ArrayLike<number>): Float64Array {
  if (weight.length !== rows * cols) throw new RangeError(`pinvTimes: expected ${rows}×${cols} values, got ${weight.length}`);
  if (b.length !== rows) throw new RangeError(`pinvTimes: b has ${b.length} values, expected ${rows}`);
  const x = new Float64Array(cols);
  if (rows <= cols) {
    const gram = new Float64Array(rows * rows);
    for (let i = 0; i < rows; i++) {
      for (let j = i; j < rows; j++) {
        let s = 0;
        for (let k = 0; k < cols; k++) s += weight[i * cols + k] * weight[j * cols + k];
        gram[i * rows + j] = s;
        gram[j * rows + i] = s;
      }
    }
    const inv = pinvh(gram, rows);
    const y = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      let s = 0;
      for (let j = 0; j < rows; j++) s += inv[i * rows + j] * b[j];
      y[i] = s;
    }
    for (let i = 0; i < rows; i++) {
      const yi = y[i];
      for (let k = 0; k < cols; k++) x[k] += weight[i * cols + k] * yi;
    }
    return x;
  }
  const gram = new Float64Array(cols * cols);
  const wtb = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let i = 0; i < cols; i++) {
      const wi = weight[o + i];
      wtb[i] += wi * b[r];
      for (let j = i; j < cols; j++) gram[i * cols + j] += wi * weight[o + j];
    }
  }
  for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) gram[i * cols + j] = gram[j * cols + i];
  const inv = pinvh(gram, cols);
  for (let i = 0; i < cols; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += inv[i * cols + j] * wtb[j];
    x[i] = s;
  }
  return x;
}
