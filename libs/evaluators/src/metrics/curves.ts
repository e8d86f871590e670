import type { Ranking } from './ranking.js';

/**
 * ROC curve with OOD as the positive class and detector score −conf, point for point what
 * `sklearn.metrics.roc_curve(ood_indicator, -conf)` returns (drop_intermediate=True):
 * one point per tie group (counts taken at the group's last index), interior points dropped where
 * both the FP and the TP count have zero second difference, then (0, 0) prepended.
 */
export interface RocCurve {
  readonly fpr: Float64Array;
  readonly tpr: Float64Array;
  /** Score thresholds (score = −conf), decreasing; the first is +Infinity. */
  readonly thresholds: Float64Array;
  /** Cumulative ID (false positive) and OOD (true positive) counts behind each point. */
  readonly fps: Float64Array;
  readonly tps: Float64Array;
}

/** Indices of the tie groups sklearn keeps with drop_intermediate=True. */
function keptGroups(fps: Float64Array, tps: Float64Array): Int32Array {
  const g = fps.length;
  if (g <= 2) return Int32Array.from({ length: g }, (_, k) => k);
  const kept = new Int32Array(g);
  let n = 0;
  kept[n++] = 0;
  for (let k = 1; k < g - 1; k++) {
    const d2f = fps[k + 1]! - 2 * fps[k]! + fps[k - 1]!;
    const d2t = tps[k + 1]! - 2 * tps[k]! + tps[k - 1]!;
    if (d2f !== 0 || d2t !== 0) kept[n++] = k;
  }
  kept[n++] = g - 1;
  return kept.slice(0, n);
}

export function rocCurve(ranking: Ranking): RocCurve {
  const g = ranking.values.length;
  const cumFp = new Float64Array(g);
  const cumTp = new Float64Array(g);
  let f = 0;
  let t = 0;
  for (let k = 0; k < g; k++) {
    f += ranking.idAt[k]!;
    t += ranking.oodAt[k]!;
    cumFp[k] = f;
    cumTp[k] = t;
  }
  const kept = keptGroups(cumFp, cumTp);
  const m = kept.length + 1;
  const fps = new Float64Array(m);
  const tps = new Float64Array(m);
  const thresholds = new Float64Array(m);
  thresholds[0] = Infinity;
  for (let p = 0; p < kept.length; p++) {
    const k = kept[p]!;
    fps[p + 1] = cumFp[k]!;
    tps[p + 1] = cumTp[k]!;
    thresholds[p + 1] = -ranking.values[k]!;
  }
  const fpr = new Float64Array(m);
  const tpr = new Float64Array(m);
  const nNeg = ranking.idCount;
  const nPos = ranking.oodCount;
  for (let p = 0; p < m; p++) {
    fpr[p] = fps[p]! / nNeg;
    tpr[p] = tps[p]! / nPos;
  }
  return { fpr, tpr, thresholds, fps, tps };
}

/**
 * Precision–recall curve as `sklearn.metrics.precision_recall_curve` returns it: recall decreasing,
 * one point per distinct score (no points dropped), then the final (recall 0, precision 1).
 * `positive: 'id'` uses score conf (AUPR-IN), `'ood'` uses score −conf (AUPR-OUT).
 */
export interface PrCurve {
  readonly precision: Float64Array;
  readonly recall: Float64Array;
  /** Score thresholds, increasing (one fewer than points). */
  readonly thresholds: Float64Array;
}

export function prCurve(ranking: Ranking, positive: 'id' | 'ood'): PrCurve {
  const g = ranking.values.length;
  const precision = new Float64Array(g + 1);
  const recall = new Float64Array(g + 1);
  const thresholds = new Float64Array(g);
  forEachPrPoint(ranking, positive, (i, p, r, threshold) => {
    precision[i] = p;
    recall[i] = r;
    thresholds[i] = threshold;
  });
  precision[g] = 1;
  recall[g] = 0;
  return { precision, recall, thresholds };
}

/**
 * Visits the PR points in sklearn's output order (index 0 = lowest threshold = full recall) without
 * allocating the curve, so AUPR on 10^7 scores costs no extra arrays.
 */
export function forEachPrPoint(
  ranking: Ranking,
  positive: 'id' | 'ood',
  visit: (index: number, precision: number, recall: number, threshold: number) => void,
): void {
  const g = ranking.values.length;
  const pos = positive === 'id' ? ranking.idAt : ranking.oodAt;
  const neg = positive === 'id' ? ranking.oodAt : ranking.idAt;
  const nPos = positive === 'id' ? ranking.idCount : ranking.oodCount;
  let tp = 0;
  let fp = 0;
  if (positive === 'id') {
    // score = conf: thresholds high→low is groups g-1 → 0; output index i is group i.
    for (let k = g - 1; k >= 0; k--) {
      tp += pos[k]!;
      fp += neg[k]!;
      visit(k, tp / (tp + fp), tp / nPos, ranking.values[k]!);
    }
  } else {
    // score = −conf: thresholds high→low is groups 0 → g-1; output index i is group g-1-i.
    for (let k = 0; k < g; k++) {
      tp += pos[k]!;
      fp += neg[k]!;
      visit(g - 1 - k, tp / (tp + fp), tp / nPos, -ranking.values[k]!);
    }
  }
}
