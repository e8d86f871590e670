import { DataError, type Rng } from '@oodkit/core';

/**
 * k-means and a tied-covariance Gaussian mixture fitted by EM, in float64 on the host, following
 * scikit-learn's KMeans (k-means++ init, Lloyd) and GaussianMixture(covariance_type='tied') step for
 * step — which is what OpenOOD's gmm postprocessor calls. Only the random stream differs: k-means++
 * draws from oodkit's seeded Rng, not numpy's RandomState(0).
 */

/** Squared euclidean distance between row i of `a` and row j of `b` (both [*, d]). */
function sqDist(a: Float64Array, i: number, b: Float64Array, j: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) {
    const v = a[i * d + t]! - b[j * d + t]!;
    s += v * v;
  }
  return s;
}

/** First index whose cumulative sum reaches `value` (numpy searchsorted 'left' on the cumsum), clipped. */
function searchCumulative(cumsum: Float64Array, value: number): number {
  let lo = 0;
  let hi = cumsum.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumsum[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return Math.min(lo, cumsum.length - 1);
}

/**
 * Greedy k-means++ seeding as sklearn's `_kmeans_plusplus`: the first centre uniformly, each further
 * one the best (lowest potential) of 2 + ⌊ln k⌋ candidates drawn proportionally to D².
 */
export function kmeansPlusPlus(x: Float64Array, n: number, d: number, k: number, rng: Rng): Float64Array {
  const centers = new Float64Array(k * d);
  const first = rng.int(0, n - 1);
  centers.set(x.subarray(first * d, (first + 1) * d), 0);
  let closest: Float64Array = new Float64Array(n);
  let pot = 0;
  for (let i = 0; i < n; i++) {
    closest[i] = sqDist(x, i, centers, 0, d);
    pot += closest[i]!;
  }
  const trials = 2 + Math.floor(Math.log(k));
  const cumsum = new Float64Array(n);
  for (let c = 1; c < k; c++) {
    let acc = 0;
    for (let i = 0; i < n; i++) cumsum[i] = acc += closest[i]!;
    let bestPot = Infinity;
    let best: Float64Array | undefined = undefined;
    let bestId = 0;
    for (let t = 0; t < trials; t++) {
      const id = searchCumulative(cumsum, rng.uniform() * pot);
      const dist = new Float64Array(n);
      let p = 0;
      for (let i = 0; i < n; i++) {
        dist[i] = Math.min(closest[i]!, sqDist(x, i, x, id, d));
        p += dist[i]!;
      }
      if (p < bestPot) {
        bestPot = p;
        best = dist;
        bestId = id;
      }
    }
    pot = bestPot;
    closest = best!;
    centers.set(x.subarray(bestId * d, (bestId + 1) * d), c * d);
  }
  return centers;
}

export interface KMeansResult {
  readonly centers: Float64Array;
  readonly labels: Int32Array;
  readonly iterations: number;
}

/** Nearest centre of every row (first on ties) and its squared distance. */
function assign(x: Float64Array, n: number, d: number, centers: Float64Array, k: number, labels: Int32Array, dist: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bd = Infinity;
    for (let c = 0; c < k; c++) {
      const v = sqDist(x, i, centers, c, d);
      if (v < bd) {
        bd = v;
        best = c;
      }
    }
    labels[i] = best;
    dist[i] = bd;
  }
}

/**
 * Lloyd's k-means from k-means++ seeds, sklearn's stopping rule: labels unchanged, or the total
 * squared centre shift ≤ tol·mean(var(X)); empty clusters take the points farthest from their centres;
 * labels are re-assigned to the final centres.
 */
export function kmeans(x: Float64Array, n: number, d: number, k: number, rng: Rng, maxIter = 300, tol = 1e-4): KMeansResult {
  if (k < 1 || k > n) throw new DataError(`k-means: ${k} clusters for ${n} samples (need 1 ≤ k ≤ n)`);
  let variance = 0;
  for (let t = 0; t < d; t++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * d + t]!;
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[i * d + t]! - m) ** 2;
    variance += v / n;
  }
  const threshold = (variance / d) * tol;
  let centers = kmeansPlusPlus(x, n, d, k, rng);
  const labels = new Int32Array(n).fill(-1);
  const previous = new Int32Array(n);
  const dist = new Float64Array(n);
  let iterations = 0;
  let strict = false;
  for (; iterations < maxIter;) {
    previous.set(labels);
    assign(x, n, d, centers, k, labels, dist);
    iterations++;
    const sums = new Float64Array(k * d);
    const counts = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      counts[c]!++;
      for (let t = 0; t < d; t++) sums[c * d + t]! += x[i * d + t]!;
    }
    const empty = [...counts.keys()].filter((c) => counts[c] === 0);
    if (empty.length > 0) {
      // sklearn relocates empty clusters onto the points farthest from their current centres
      const far = [...dist.keys()].sort((a, b) => dist[b]! - dist[a]!).slice(0, empty.length);
      empty.forEach((c, e) => {
        const i = far[e]!;
        const old = labels[i]!;
        counts[old]!--;
        for (let t = 0; t < d; t++) {
          sums[old * d + t]! -= x[i * d + t]!;
          sums[c * d + t] = x[i * d + t]!;
        }
        counts[c] = 1;
      });
    }
    const next = new Float64Array(k * d);
    let shift = 0;
    for (let c = 0; c < k; c++) {
      for (let t = 0; t < d; t++) {
        next[c * d + t] = counts[c]! > 0 ? sums[c * d + t]! / counts[c]! : centers[c * d + t]!;
        shift += (next[c * d + t]! - centers[c * d + t]!) ** 2;
      }
    }
    centers = next;
    if (labels.every((l, i) => l === previous[i])) {
      strict = true;
      break;
    }
    if (shift <= threshold) break;
  }
  if (!strict) assign(x, n, d, centers, k, labels, dist);
  return { centers, labels, iterations };
}

/** Lower Cholesky factor of a symmetric positive-definite [d, d] matrix; a DataError otherwise. */
export function cholesky(a: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      for (let t = 0; t < j; t++) s -= l[i * d + t]! * l[j * d + t]!;
      if (i === j) {
        if (!(s > 0)) throw new DataError('Gaussian mixture: the tied covariance is not positive definite (increase reg_covar)');
        l[i * d + i] = Math.sqrt(s);
      } else {
        l[i * d + j] = s / l[j * d + j]!;
      }
    }
  }
  return l;
}

export interface TiedGaussianMixture {
  readonly numComponents: number;
  readonly dim: number;
  /** Mixing weights [K], summing to 1. */
  readonly weights: Float64Array;
  /** Component means [K, d] row-major. */
  readonly means: Float64Array;
  /** The shared covariance [d, d] (reg_covar included). */
  readonly covariance: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
  /** Mean log-likelihood per sample at the last E-step. */
  readonly lowerBound: number;
}

export interface TiedGmmOptions {
  readonly tol?: number;
  readonly regCovar?: number;
  readonly maxIter?: number;
}

/**
 * Weights, means and tied covariance from responsibilities r [n, K] (sklearn
 * `_estimate_gaussian_parameters`): n_k = Σ_i r_ik + 10·eps, μ_k = Σ_i r_ik x_i / n_k,
 * Σ = (XᵀX − Σ_k n_k μ_k μ_kᵀ) / Σ_k n_k + reg·I. `gram` is XᵀX, which EM never changes.
 */
function estimate(x: Float64Array, n: number, d: number, resp: Float64Array, k: number, gram: Float64Array, reg: number) {
  const nk = new Float64Array(k).fill(10 * Number.EPSILON);
  const means = new Float64Array(k * d);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      const r = resp[i * k + c]!;
      if (r === 0) continue;
      nk[c]! += r;
      for (let t = 0; t < d; t++) means[c * d + t]! += r * x[i * d + t]!;
    }
  }
  let total = 0;
  for (let c = 0; c < k; c++) {
    total += nk[c]!;
    for (let t = 0; t < d; t++) means[c * d + t]! /= nk[c]!;
  }
  const cov = Float64Array.from(gram);
  for (let c = 0; c < k; c++) {
    for (let a = 0; a < d; a++) {
      const ma = nk[c]! * means[c * d + a]!;
      for (let b = 0; b < d; b++) cov[a * d + b]! -= ma * means[c * d + b]!;
    }
  }
  for (let a = 0; a < d * d; a++) cov[a]! /= total;
  for (let a = 0; a < d; a++) cov[a * d + a]! += reg;
  return { nk, means, cov, total };
}

/** Inverse of a lower-triangular [d, d] matrix (lower-triangular). */
function lowerInverse(l: Float64Array, d: number): Float64Array {
  const inv = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    inv[j * d + j] = 1 / l[j * d + j]!;
    for (let i = j + 1; i < d; i++) {
      let s = 0;
      for (let t = j; t < i; t++) s += l[i * d + t]! * inv[t * d + j]!;
      inv[i * d + j] = -s / l[i * d + i]!;
    }
  }
  return inv;
}

/** Rows of `rows` [m, d] mapped by the lower-triangular `a`: out_i = a·row_i. */
function mapLower(a: Float64Array, rows: Float64Array, m: number, d: number): Float64Array {
  const out = new Float64Array(m * d);
  for (let i = 0; i < m; i++) {
    for (let r = 0; r < d; r++) {
      let s = 0;
      for (let t = 0; t <= r; t++) s += a[r * d + t]! * rows[i * d + t]!;
      out[i * d + r] = s;
    }
  }
  return out;
}

/**
 * E-step: log responsibilities (in place in `logResp`, [n, K]) and the mean log-likelihood, with
 * log N(x | μ_k, Σ) = −½(d·log 2π + ‖L⁻¹x − L⁻¹μ_k‖²) − Σ log L_ii for Σ = LLᵀ (sklearn's
 * precision-Cholesky form: the data are mapped once, O(n·d²), then O(n·K·d)).
 */
function expectation(
  x: Float64Array,
  n: number,
  d: number,
  g: { weights: Float64Array; means: Float64Array; cov: Float64Array },
  k: number,
  logResp: Float64Array,
): number {
  const l = cholesky(g.cov, d);
  let logDet = 0;
  for (let a = 0; a < d; a++) logDet += Math.log(l[a * d + a]!);
  const base = -0.5 * d * Math.log(2 * Math.PI) - logDet;
  const linv = lowerInverse(l, d);
  const y = mapLower(linv, x, n, d);
  const mu = mapLower(linv, g.means, k, d);
  const logW = Array.from(g.weights, Math.log);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let c = 0; c < k; c++) {
      const v = base - 0.5 * sqDist(y, i, mu, c, d) + logW[c]!;
      logResp[i * k + c] = v;
      if (v > m) m = v;
    }
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(logResp[i * k + c]! - m);
    const norm = m + Math.log(s);
    for (let c = 0; c < k; c++) logResp[i * k + c]! -= norm;
    sum += norm;
  }
  return sum / n;
}

/**
 * EM for a Gaussian mixture with one shared covariance, started from hard labels (sklearn's
 * init_params='kmeans' turns k-means labels into one-hot responsibilities): sklearn's iteration —
 * E-step, M-step, stop when the mean log-likelihood changes by less than tol — with its defaults
 * tol 1e-3, reg_covar 1e-6, max_iter 100.
 */
export function fitTiedGmm(
  x: Float64Array,
  n: number,
  d: number,
  labels: Int32Array,
  k: number,
  options: TiedGmmOptions = {},
): TiedGaussianMixture {
  const tol = options.tol ?? 1e-3;
  const reg = options.regCovar ?? 1e-6;
  const maxIter = options.maxIter ?? 100;
  const gram = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const xa = x[i * d + a]!;
      for (let b = a; b < d; b++) gram[a * d + b]! += xa * x[i * d + b]!;
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) gram[a * d + b] = gram[b * d + a]!;
  const resp = new Float64Array(n * k);
  for (let i = 0; i < n; i++) resp[i * k + labels[i]!] = 1;
  const init = estimate(x, n, d, resp, k, gram, reg);
  let g = { weights: init.nk.map((v) => v / n), means: init.means, cov: init.cov };
  let lowerBound = -Infinity;
  let converged = false;
  let iterations = 0;
  const logResp = new Float64Array(n * k);
  for (iterations = 1; iterations <= maxIter; iterations++) {
    const previous = lowerBound;
    lowerBound = expectation(x, n, d, g, k, logResp);
    for (let i = 0; i < n * k; i++) resp[i] = Math.exp(logResp[i]!);
    const m = estimate(x, n, d, resp, k, gram, reg);
    g = { weights: m.nk.map((v) => v / m.total), means: m.means, cov: m.cov };
    if (Math.abs(lowerBound - previous) < tol) {
      converged = true;
      break;
    }
  }
  return {
    numComponents: k,
    dim: d,
    weights: g.weights,
    means: g.means,
    covariance: g.cov,
    iterations: Math.min(iterations, maxIter),
    converged,
    lowerBound,
  };
}
