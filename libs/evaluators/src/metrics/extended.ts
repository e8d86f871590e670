import { DataError, UsageError } from '@oodkit/core';
import { rocCurve } from './curves.js';
import { asRanking, CompensatedSum, type ConfInput, type Ranking } from './ranking.js';

/**
 * Metrics beyond OpenOOD v1.5's five (fractions, not ×100). Conventions as for the five: confidences
 * are "higher = more ID", OOD is the positive class of the detection metrics, the outlier score is
 * −conf. Definitions and where they come from: docs/decisions.md "Metrics beyond OpenOOD".
 */
export interface ExtendedMetrics {
  /** Area under the threshold curve (pytorch-ood `autc_score`); lower is better, ½ for an uninformative score. */
  readonly autc: number;
  /** min over thresholds of ½(FNR + FPR) (exact; OpenOOD's `detection` scans a grid); lower is better. */
  readonly detectionError: number;
  /** Open-set classification rate (pytorch-ood `oscr_score`); null without ID predictions and labels. */
  readonly oscr: number | null;
  /** CCR at each FPR level (OpenOOD's `ccr_fpr`); null without ID predictions and labels. */
  readonly ccrAtFpr: readonly CcrAtFpr[] | null;
  /** Area under the response-rate–accuracy curve of the ID samples (pytorch-ood `aurra`); null without predictions. */
  readonly aurra: number | null;
}

export interface CcrAtFpr {
  readonly fpr: number;
  readonly ccr: number;
}

/** The FPR levels OpenOOD v1.0 reported CCR at (`ccr_4` … `ccr_1`). */
export const CCR_FPR_LEVELS = [1e-4, 1e-3, 1e-2, 1e-1] as const;

export interface ExtendedMetricsOptions {
  /** Predicted classes of the ID samples (same order as idConf): OSCR, CCR@FPR and AURRA need them. */
  readonly idPred?: ArrayLike<number>;
  /** True classes of the ID samples. */
  readonly idLabels?: ArrayLike<number>;
  /** FPR levels of CCR@FPR (default CCR_FPR_LEVELS). */
  readonly ccrLevels?: readonly number[];
  /** A ranking of (idConf, oodConf) computed earlier, so the confidences are sorted once. */
  readonly ranking?: Ranking;
}

function assertScores(conf: ConfInput, which: string): void {
  if (conf.length === 0) throw new DataError(`${which} set is empty`);
  for (let i = 0; i < conf.length; i++) {
    if (Number.isNaN(conf[i]!)) throw new DataError(`${which} confidence at index ${i} is NaN`);
  }
}

/**
 * AUTC (Humblot-Renaux et al. 2023) as pytorch-ood computes it: outlier scores s = −conf are min–max
 * normalised over ID ∪ OOD, then AUTC = ½(mean over ID of s + mean over OOD of (1 − s)) — the areas
 * under FPR(τ) and FNR(τ) for τ ∈ [0, 1] in closed form. Constant scores (where pytorch-ood divides
 * 0/0) give ½, the value of a score that carries no information.
 */
export function autc(idConf: ConfInput, oodConf: ConfInput): number {
  assertScores(idConf, 'ID');
  assertScores(oodConf, 'OOD');
  let lo = Infinity;
  let hi = -Infinity;
  for (const set of [idConf, oodConf]) {
    for (let i = 0; i < set.length; i++) {
      lo = Math.min(lo, set[i]!);
      hi = Math.max(hi, set[i]!);
    }
  }
  if (!Number.isFinite(hi - lo)) throw new DataError('AUTC: confidences must be finite (the min–max normalisation needs a finite range)');
  if (hi === lo) return 0.5;
  const range = hi - lo;
  // s = (hi − conf)/range for ID (area under FPR), 1 − s = (conf − lo)/range for OOD (area under FNR)
  const fprArea = new CompensatedSum();
  for (let i = 0; i < idConf.length; i++) fprArea.add((hi - idConf[i]!) / range);
  const fnrArea = new CompensatedSum();
  for (let i = 0; i < oodConf.length; i++) fnrArea.add((oodConf[i]! - lo) / range);
  return (fprArea.value() / idConf.length + fnrArea.value() / oodConf.length) / 2;
}

/**
 * Detection error min_t ½(P(ID flagged OOD) + P(OOD kept as ID)) over every threshold t — the minimum
 * over the ROC points, where the objective is linear, so drop_intermediate cannot move it. OpenOOD's
 * `detection` evaluates the same objective on 100,000 evenly spaced thresholds (an upper bound of this).
 */
export function detectionError(idConf: ConfInput | Ranking, oodConf?: ConfInput): number {
  const curve = rocCurve(asRanking(idConf, oodConf));
  let best = Infinity;
  for (let p = 0; p < curve.fpr.length; p++) best = Math.min(best, (1 - curve.tpr[p]! + curve.fpr[p]!) / 2);
  return best;
}

/** Correctness of each ID prediction (1/0), checking lengths and that the labels are ID classes. */
export function correctFlags(pred: ArrayLike<number>, labels: ArrayLike<number>, n: number): Uint8Array {
  if (pred.length !== n) throw new DataError(`${pred.length} ID predictions for ${n} ID scores`);
  if (labels.length !== n) throw new DataError(`${labels.length} ID labels for ${n} ID scores`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (labels[i]! < 0) throw new DataError(`ID label at index ${i} is ${labels[i]}; ID samples need a class label ≥ 0`);
    out[i] = pred[i] === labels[i] ? 1 : 0;
  }
  return out;
}

/** The confidences (only those flagged in `keep`, when given) sorted descending; −0 and +0 compare equal. */
function sortedDescending(conf: ConfInput, keep?: Uint8Array): Float64Array {
  let n = 0;
  for (let i = 0; i < conf.length; i++) if (!keep || keep[i]) n++;
  const out = new Float64Array(n);
  let o = 0;
  for (let i = 0; i < conf.length; i++) if (!keep || keep[i]) out[o++] = conf[i]!;
  out.sort();
  return out.reverse();
}

/**
 * OSCR (Dhamija et al. 2018), pytorch-ood's `oscr_score` curve: one point per distinct ID confidence c
 * (highest first) with CCR(c) = #{correct ID with conf ≥ c}/N_ID and FPR(c) = #{OOD with conf ≥ c}/N_OOD,
 * starting at (0, 0) and closed by (1, CCR of the last point); OSCR is its trapezoid area. Tied ID
 * confidences form one point (the curve's value at that threshold); pytorch-ood adds one point per
 * sample, which gives the same area when ID confidences are distinct and an order-dependent one otherwise.
 */
export function oscr(idConf: ConfInput, oodConf: ConfInput, correct: Uint8Array): number {
  assertScores(idConf, 'ID');
  assertScores(oodConf, 'OOD');
  const all = sortedDescending(idConf);
  const good = sortedDescending(idConf, correct);
  const ood = sortedDescending(oodConf);
  const nId = all.length;
  const nOod = ood.length;
  const area = new CompensatedSum();
  let prevFpr = 0;
  let prevCcr = 0;
  let g = 0;
  let q = 0;
  for (let i = 0; i < nId;) {
    const c = all[i]!;
    while (i < nId && all[i] === c) i++;
    while (g < good.length && good[g]! >= c) g++;
    while (q < nOod && ood[q]! >= c) q++;
    const ccr = g / nId;
    const fpr = q / nOod;
    area.add(((fpr - prevFpr) * (ccr + prevCcr)) / 2);
    prevFpr = fpr;
    prevCcr = ccr;
  }
  area.add(((1 - prevFpr) * (prevCcr + prevCcr)) / 2);
  return area.value();
}

/**
 * CCR at an FPR level as OpenOOD's `ccr_fpr`: the threshold is the ⌈fpr·N_OOD⌉-th largest OOD
 * confidence, CCR = #{correct ID with conf strictly above it}/N_ID. Levels must lie in (0, 1]
 * (OpenOOD's indexing turns 0 into the smallest OOD confidence).
 */
export function ccrAtFpr(idConf: ConfInput, oodConf: ConfInput, correct: Uint8Array, fpr: number): number {
  if (!(fpr > 0 && fpr <= 1)) throw new UsageError(`CCR@FPR level must be in (0, 1], got ${fpr}`);
  assertScores(idConf, 'ID');
  assertScores(oodConf, 'OOD');
  const ood = sortedDescending(oodConf);
  const fpNum = Math.ceil(fpr * ood.length);
  const threshold = ood[fpNum - 1]!;
  let hits = 0;
  for (let i = 0; i < idConf.length; i++) if (correct[i] && idConf[i]! > threshold) hits++;
  return hits / idConf.length;
}

/**
 * AURRA (Hendrycks et al. 2021; pytorch-ood `aurra`): answer ID samples in order of decreasing
 * confidence and average the accuracy over all response rates k/N, k = 1 … N. Tied confidences have no
 * order, so each tie group contributes its expected accuracy over the orders (correct answers spread
 * evenly through the group); with distinct confidences this is pytorch-ood's value exactly.
 */
export function aurra(conf: ConfInput, correct: Uint8Array): number {
  assertScores(conf, 'ID');
  if (correct.length !== conf.length) throw new DataError(`AURRA: ${correct.length} correctness flags for ${conf.length} scores`);
  const all = sortedDescending(conf);
  const good = sortedDescending(conf, correct);
  const n = all.length;
  const sum = new CompensatedSum();
  let right = 0;
  let g = 0;
  for (let i = 0; i < n;) {
    const v = all[i]!;
    const start = i;
    while (i < n && all[i] === v) i++;
    const m = i - start;
    let c = 0;
    while (g < good.length && good[g] === v) {
      g++;
      c++;
    }
    for (let j = 1; j <= m; j++) sum.add((right + (j * c) / m) / (start + j));
    right += c;
  }
  return sum.value() / n;
}

/** All extended metrics of one ID/OOD pair. */
export function computeExtendedMetrics(idConf: ConfInput, oodConf: ConfInput, options: ExtendedMetricsOptions = {}): ExtendedMetrics {
  const ranking = options.ranking ?? asRanking(idConf, oodConf);
  const base = { autc: autc(idConf, oodConf), detectionError: detectionError(ranking) };
  if (!options.idPred && !options.idLabels) return { ...base, oscr: null, ccrAtFpr: null, aurra: null };
  if (!options.idPred || !options.idLabels) throw new UsageError('OSCR, CCR@FPR and AURRA need both idPred and idLabels');
  const correct = correctFlags(options.idPred, options.idLabels, idConf.length);
  const levels = options.ccrLevels ?? CCR_FPR_LEVELS;
  return {
    ...base,
    oscr: oscr(idConf, oodConf, correct),
    ccrAtFpr: levels.map((fpr) => ({ fpr, ccr: ccrAtFpr(idConf, oodConf, correct, fpr) })),
    aurra: aurra(idConf, correct),
  };
}
