import { DataError } from '@oodkit/core';
import { chiSquareCdf } from '../math/gamma.js';
import { checkPerLayer, type ScoreAggregator } from './aggregator.js';

/** numpy.interp: linear in the sorted `xp`, clamped to fp[0] / fp[n−1] outside. */
function interp(x: number, xp: Float64Array, fp: Float64Array): number {
  const n = xp.length;
  if (x < xp[0]!) return fp[0]!;
  if (x >= xp[n - 1]!) return fp[n - 1]!;
  // j = last index with xp[j] ≤ x (ties: the last of equal values, as numpy's search does)
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xp[mid]! <= x) lo = mid;
    else hi = mid;
  }
  const slope = (fp[lo + 1]! - fp[lo]!) / (xp[lo + 1]! - xp[lo]!);
  return slope * (x - xp[lo]!) + fp[lo]!;
}

/**
 * oodeel's FisherAggregator (Haroush et al. 2021; Dadalto et al. 2024): per layer, an empirical CDF
 * of the ID confidences, augmented with a lower bound min·(1/N if min > 0 else N) and an upper bound
 * max·(N if max > 0 else 1/N), CDF values (1..N+2)/(N+2); a sample's p-value per layer is that CDF
 * linearly interpolated at its confidence (numpy.interp), Fisher's τ = −2 Σ_l ln p_l, and Brown's
 * correction fitted on the ID τ: μ = mean, σ² = population variance, c = σ²/(2μ), k′ = 2μ²/σ².
 * oodeel's OOD score is F_χ²(τ/c; k′); conf is its negation (1 − p of the corrected test, minus 1).
 */
export class FisherAggregator implements ScoreAggregator {
  readonly name = 'fisher';
  private sorted?: Float64Array[];
  private ecdf?: Float64Array;
  private c = 0;
  private kPrime = 0;

  fit(perLayer: readonly Float64Array[]): void {
    const n = checkPerLayer(this.name, perLayer);
    if (n === 0) throw new DataError(`${this.name} aggregator: no ID scores to fit on`);
    this.sorted = perLayer.map((conf) => {
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < n; i++) {
        min = Math.min(min, conf[i]!);
        max = Math.max(max, conf[i]!);
      }
      const aug = new Float64Array(n + 2);
      aug[0] = min * (min > 0 ? 1 / n : n);
      aug.set(conf, 1);
      aug[n + 1] = max * (max > 0 ? n : 1 / n);
      return aug.sort();
    });
    this.ecdf = Float64Array.from({ length: n + 2 }, (_, i) => (i + 1) / (n + 2));
    const tau = this.fisherScores(perLayer);
    let mu = 0;
    for (const t of tau) mu += t;
    mu /= n;
    let sigma2 = 0;
    for (const t of tau) sigma2 += (t - mu) ** 2;
    sigma2 /= n;
    if (!(sigma2 > 0) || !(mu > 0)) {
      throw new DataError(
        `${this.name} aggregator: the ID Fisher statistics have mean ${mu} and variance ${sigma2}; Brown's correction needs both > 0 (are the ID scores constant?)`,
      );
    }
    this.c = sigma2 / (2 * mu);
    this.kPrime = (2 * mu * mu) / sigma2;
  }

  aggregate(perLayer: readonly Float64Array[]): Float64Array {
    const n = checkPerLayer(this.name, perLayer, this.sorted !== undefined);
    if (perLayer.length !== this.sorted!.length) {
      throw new DataError(`${this.name} aggregator: fitted on ${this.sorted!.length} layers, given ${perLayer.length}`);
    }
    const tau = this.fisherScores(perLayer);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const pValue = 1 - chiSquareCdf(tau[i]! / this.c, this.kPrime);
      out[i] = -(1 - pValue);
    }
    return out;
  }

  /** τ = −2 Σ_l ln p_l with p_l the interpolated ID CDF of the layer-l confidence. */
  private fisherScores(perLayer: readonly Float64Array[]): Float64Array {
    const n = perLayer[0]!.length;
    const tau = new Float64Array(n);
    perLayer.forEach((conf, l) => {
      const xp = this.sorted![l]!;
      for (let i = 0; i < n; i++) tau[i] = tau[i]! - 2 * Math.log(interp(conf[i]!, xp, this.ecdf!));
    });
    return tau;
  }
}
