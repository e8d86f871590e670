import { wasmSymmetricEigen } from '@oodkit/compute';

/**
 * Symmetric eigendecomposition in float64: Householder reduction to tridiagonal form followed by the
 * implicit QL algorithm (the classic tred2/tql2 pair of EISPACK). O(n³). On the wasm backend the same
 * algorithm runs in C with f64x2 loops (libs/compute/csrc/eigen.c: 0.16 s instead of 1.1 s at D = 512, loaded machine);
 * elsewhere in JavaScript below.
 */
export interface SymmetricEigen {
  readonly n: number;
  /** Eigenvalues, ascending. */
  readonly values: Float64Array;
  /** Eigenvectors as columns, row-major [n, n]: vectors[i·n + k] is component i of vector k. */
  readonly vectors: Float64Array;
}

export function symmetricEigen(matrix: ArrayLike<number>, n: number): SymmetricEigen {
  if (matrix.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n}×${n} values, got ${matrix.length}`);
  // Small matrices stay in JavaScript: the heap copy would cost more than it saves.
  const wasm = n >= 16 ? wasmSymmetricEigen(matrix, n) : undefined;
  if (wasm) return { n, ...wasm };
  return symmetricEigenJs(matrix, n);
}

/** The JavaScript route of `symmetricEigen` (every backend; exported so tests can compare the routes). */
export function symmetricEigenJs(matrix: ArrayLike<number>, n: number): SymmetricEigen {
  if (matrix.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n}×${n} values, got ${matrix.length}`);
  // Rows as separate arrays (only the upper triangle is read; the matrix must be symmetric).
  const v: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const row = new Float64Array(n);
    for (let j = 0; j < n; j++) row[j] = matrix[i * n + j];
    v.push(row);
  }
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  if (n === 0) return { n, values: d, vectors };
  // The input is symmetric, so it is its own transpose: tred2 and tql2 both work on Vᵀ, whose
  // rows are the eigenvectors being built (contiguous inner loops throughout).
  const vt = v;
  tred2(vt, d, e, n);
  tql2(vt, d, e, n);
  for (let k = 0; k < n; k++) {
    const row = vt[k];
    for (let i = 0; i < n; i++) vectors[i * n + k] = row[i];
  }
  return { n, values: d, vectors };
}

/**
 * Householder tridiagonalisation (EISPACK tred2), written on the transposed working matrix
 * w = Vᵀ so that every inner loop walks a contiguous row. On exit w holds Vᵀ of the accumulated
 * transformations — exactly the row layout tql2 rotates.
 */
function tred2(w: Float64Array[], d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = w[j][n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = w[j][i - 1];
        w[j][i] = 0;
        w[i][j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      const wi = w[i];
      for (let j = 0; j < i; j++) {
        f = d[j];
        wi[j] = f;
        const wj = w[j];
        g = e[j] + wj[j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += wj[k] * d[k];
          e[k] += wj[k] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        const wj = w[j];
        for (let k = j; k <= i - 1; k++) wj[k] -= f * e[k] + g * d[k];
        d[j] = wj[i - 1];
        wj[i] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    w[i][n - 1] = w[i][i];
    w[i][i] = 1;
    const h = d[i + 1];
    const wi1 = w[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = wi1[k] / h;
      for (let j = 0; j <= i; j++) {
        const wj = w[j];
        let g = 0;
        for (let k = 0; k <= i; k++) g += wi1[k] * wj[k];
        for (let k = 0; k <= i; k++) wj[k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) wi1[k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[j][n - 1];
    w[j][n - 1] = 0;
  }
  w[n - 1][n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e); `vt` holds the eigenvectors as rows (Vᵀ). */
function tql2(vt: Float64Array[], d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        iter++;
        if (iter > 300) throw new Error('symmetricEigen: QL iteration did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const vi = vt[i];
          const vi1 = vt[i + 1];
          for (let k = 0; k < n; k++) {
            h = vi1[k];
            vi1[k] = s * vi[k] + c * h;
            vi[k] = c * vi[k] - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] = d[l] + f;
    e[l] = 0;
  }
  // ascending order, vectors permuted alongside
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i];
    for (let j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      const t = vt[i];
      vt[i] = vt[k];
      vt[k] = t;
    }
  }
}
