import { DataError } from '@oodkit/core';

/** Two-parameter Weibull: CDF(x) = 1 − exp(−(x/scale)^shape), x ≥ 0. */
export interface Weibull {
  readonly scale: number;
  readonly shape: number;
}

/**
 * Maximum-likelihood fit of a 2-parameter Weibull, the method of libMR's `weibull_fit` (MATLAB
 * wblfit): on y = log x (a Gumbel-min sample, shifted/scaled to [−1, 0] for stability) σ solves
 *   σ + mean(y) − Σ y·e^{y/σ} / Σ e^{y/σ} = 0,  μ = σ·log(mean e^{y/σ}),
 * and scale = exp(μ), shape = 1/σ (mapped back to the original units). libMR stops its root
 * search at tolerance 1e-6; this bisects to machine precision, i.e. the exact MLE.
 */
export function fitWeibull(data: ArrayLike<number>, what = 'data'): Weibull {
  const n = data.length;
  if (n < 2) throw new DataError(`Weibull fit of ${what}: needs at least 2 values, got ${n}`);
  const y = new Float64Array(n);
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    if (!(data[i] > 0)) throw new DataError(`Weibull fit of ${what}: value ${i} is ${data[i]}, expected > 0`);
    y[i] = Math.log(data[i]);
    max = Math.max(max, y[i]);
    min = Math.min(min, y[i]);
  }
  const range = max - min;
  if (!(range > 0)) throw new DataError(`Weibull fit of ${what}: all ${n} values are equal; no distribution to fit`);
  let mean = 0;
  for (let i = 0; i < n; i++) {
    y[i] = (y[i] - max) / range;
    mean += y[i];
  }
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (y[i] - mean) ** 2;
  const likelihood = (sigma: number): number => {
    // y ≤ 0 with max 0, so e^{y/σ} ∈ (0, 1]: no overflow for any σ > 0.
    let sw = 0;
    let syw = 0;
    for (let i = 0; i < n; i++) {
      const w = Math.exp(y[i] / sigma);
      sw += w;
      syw += y[i] * w;
    }
    return sigma + mean - syw / sw;
  };
  let sigma = (Math.sqrt(6) * Math.sqrt(ss / (n - 1))) / Math.PI;
  let lower: number;
  let upper: number;
  if (likelihood(sigma) > 0) {
    upper = sigma;
    lower = 0.5 * upper;
    while (likelihood(lower) > 0) {
      upper = lower;
      lower *= 0.5;
      if (lower < Number.MIN_VALUE * 4) throw new DataError(`Weibull fit of ${what}: maximum likelihood did not converge (underflow)`);
    }
  } else {
    lower = sigma;
    upper = 2 * lower;
    while (likelihood(upper) < 0) {
      lower = upper;
      upper *= 2;
      if (!Number.isFinite(upper)) throw new DataError(`Weibull fit of ${what}: maximum likelihood did not converge (overflow)`);
    }
  }
  // v(σ) increases through its root on [lower, upper]; bisect until the interval stops shrinking.
  for (let iter = 0; iter < 2000; iter++) {
    const mid = 0.5 * (lower + upper);
    if (mid <= lower || mid >= upper) break;
    if (likelihood(mid) > 0) upper = mid;
    else lower = mid;
  }
  sigma = 0.5 * (lower + upper);
  let se = 0;
  for (let i = 0; i < n; i++) se += Math.exp(y[i] / sigma);
  const mu = sigma * Math.log(se / n);
  return { scale: Math.exp(range * mu + max), shape: 1 / (range * sigma) };
}

export function weibullCdf(w: Weibull, x: number): number {
  if (x < 0) return 0;
  return 1 - Math.exp(-Math.exp(w.shape * (Math.log(x) - Math.log(w.scale))));
}

/** libMR's MR object after `fit_high`: a Weibull on the translated top tail of the data. */
export interface TailModel extends Weibull {
  /** Smallest value of the fitted tail; data are translated by `translate − smallScore` before fitting. */
  readonly smallScore: number;
  readonly translate: number;
}

/** libMR's default translate_amount. */
export const LIBMR_TRANSLATE = 10000;

/**
 * libMR `MR.fit_high(data, tailSize)`: sort descending, keep the `tailSize` largest values, shift
 * them by translate − (smallest kept value) so they start at `translate`, and fit a Weibull.
 */
export function fitHighTail(values: ArrayLike<number>, tailSize: number, translate = LIBMR_TRANSLATE, what = 'data'): TailModel {
  if (tailSize > values.length) throw new DataError(`fit_high of ${what}: tail size ${tailSize} exceeds the ${values.length} values`);
  const sorted = Float64Array.from(values).sort().reverse();
  const tail = sorted.subarray(0, tailSize);
  const smallScore = tail[tailSize - 1];
  const shifted = Float64Array.from(tail, (v) => v + translate - smallScore);
  return { ...fitWeibull(shifted, what), smallScore, translate };
}

/** libMR `w_score` (= CDF for fit_high models): probability that x lies beyond the fitted tail. */
export function wScore(model: TailModel, x: number): number {
  return weibullCdf(model, x + model.translate - model.smallScore);
}
