import { DataError, UsageError } from '@oodkit/core';
import { forEachPrPoint, rocCurve, type RocCurve } from './curves.js';
import { asRanking, CompensatedSum, rankConfidences, type ConfInput, type Ranking } from './ranking.js';

/**
 * The five OpenOOD v1.5 metrics (fractions, not ×100). OOD is the positive class and the detector
 * score is −conf; see docs/decisions.md "OOD metrics" for every convention.
 */
export interface OodMetrics {
  /** FPR at the first ROC point with TPR ≥ 0.95 (no interpolation). */
  readonly fpr95: number;
  readonly auroc: number;
  readonly auprIn: number;
  readonly auprOut: number;
  /** ID classification accuracy; null when predictions/labels were not given. */
  readonly acc: number | null;
}

/**
 * Area under the ROC curve by the trapezoid rule over the (kept) ROC points. Computed from integer
 * counts — Σ Δfp·(tp₁+tp₀) / (2·N·P) — which is exact up to the final division (ties count ½).
 */
export function aurocFromCurve(curve: RocCurve): number {
  let twiceArea = 0;
  for (let p = 1; p < curve.fps.length; p++) {
    twiceArea += (curve.fps[p]! - curve.fps[p - 1]!) * (curve.tps[p]! + curve.tps[p - 1]!);
  }
  const nNeg = curve.fps[curve.fps.length - 1]!;
  const nPos = curve.tps[curve.tps.length - 1]!;
  return twiceArea / (2 * nNeg * nPos);
}

/** FPR of the first ROC point (highest threshold first) whose TPR ≥ `tpr`, like OpenOOD's `argmax(tpr >= 0.95)`. */
export function fprAtTprFromCurve(curve: RocCurve, tpr = 0.95): number {
  if (!(tpr >= 0 && tpr <= 1)) throw new UsageError(`TPR level must be in [0, 1], got ${tpr}`);
  for (let p = 0; p < curve.tpr.length; p++) {
    if (curve.tpr[p]! >= tpr) return curve.fpr[p]!;
  }
  // Unreachable: the last point has TPR 1. numpy's argmax of all-False would give index 0.
  return curve.fpr[0]!;
}

/** Trapezoid area under sklearn's precision–recall curve, which ends at (recall 0, precision 1). */
export function auprFromRanking(ranking: Ranking, positive: 'id' | 'ood'): number {
  // Points arrive from the highest threshold down (output index g-1 … 0), so each new point pairs
  // with the previous one; the first pairs with the curve's end (recall 0, precision 1).
  const sum = new CompensatedSum();
  let prevPrecision = 1;
  let prevRecall = 0;
  forEachPrPoint(ranking, positive, (_i, p, r) => {
    sum.add(((r - prevRecall) * (p + prevPrecision)) / 2);
    prevPrecision = p;
    prevRecall = r;
  });
  return sum.value();
}

export function auroc(idConf: ConfInput | Ranking, oodConf?: ConfInput): number {
  return aurocFromCurve(rocCurve(asRanking(idConf, oodConf)));
}

export function fprAtTpr(idConf: ConfInput | Ranking, oodConf?: ConfInput, tpr = 0.95): number {
  return fprAtTprFromCurve(rocCurve(asRanking(idConf, oodConf)), tpr);
}

/** AUPR with ID positive and score conf. */
export function auprIn(idConf: ConfInput | Ranking, oodConf?: ConfInput): number {
  return auprFromRanking(asRanking(idConf, oodConf), 'id');
}

/** AUPR with OOD positive and score −conf. */
export function auprOut(idConf: ConfInput | Ranking, oodConf?: ConfInput): number {
  return auprFromRanking(asRanking(idConf, oodConf), 'ood');
}

/**
 * Classification accuracy over the samples whose label is not −1 (OpenOOD's `acc`). Samples labelled
 * −1 are skipped; no ID sample at all is an error rather than NaN.
 */
export function accuracy(pred: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (pred.length !== labels.length) {
    throw new DataError(`accuracy: ${pred.length} predictions but ${labels.length} labels`);
  }
  let total = 0;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === -1) continue;
    total++;
    if (pred[i] === labels[i]) correct++;
  }
  if (total === 0) throw new DataError('accuracy: no ID sample (every label is -1)');
  return correct / total;
}

export interface OodMetricsOptions {
  /** Predicted classes of the ID samples (same order as idConf), for ACC. */
  readonly idPred?: ArrayLike<number>;
  /** True classes of the ID samples, for ACC. */
  readonly idLabels?: ArrayLike<number>;
  /** TPR level of the FPR metric; OpenOOD uses 0.95. */
  readonly tpr?: number;
}

/** All five metrics with one sort. Needs ≥ 1 ID and ≥ 1 OOD score (else a DataError). */
export function computeOodMetrics(idConf: ConfInput, oodConf: ConfInput, options: OodMetricsOptions = {}): OodMetrics {
  const ranking = rankConfidences(idConf, oodConf);
  const curve = rocCurve(ranking);
  let acc: number | null = null;
  if (options.idPred || options.idLabels) {
    if (!options.idPred || !options.idLabels) throw new UsageError('ACC needs both idPred and idLabels');
    if (options.idPred.length !== idConf.length) {
      throw new DataError(`ACC: ${options.idPred.length} ID predictions for ${idConf.length} ID scores`);
    }
    acc = accuracy(options.idPred, options.idLabels);
  }
  return {
    fpr95: fprAtTprFromCurve(curve, options.tpr ?? 0.95),
    auroc: aurocFromCurve(curve),
    auprIn: auprFromRanking(ranking, 'id'),
    auprOut: auprFromRanking(ranking, 'ood'),
    acc,
  };
}
