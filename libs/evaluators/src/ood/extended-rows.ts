import { CCR_FPR_LEVELS, computeExtendedMetrics } from '../metrics/extended.js';
import type { SplitScores } from './source.js';

/**
 * The metrics beyond OpenOOD for one OOD dataset (fractions), kept apart from OpenOOD's five so the
 * `<pp>__metrics.csv` table stays byte-compatible with OpenOOD's; they go to the metrics JSON
 * (`extended`) and to `<pp>__metrics_extended.csv`.
 */
export interface ExtendedMetricsRow {
  readonly dataset: string;
  readonly group: 'near' | 'far';
  readonly isMean: boolean;
  readonly autc: number;
  readonly detectionError: number;
  readonly oscr: number;
  /** CCR at CCR_FPR_LEVELS, in that order. */
  readonly ccr: readonly number[];
  /** ID-only (selective classification of the ID test set): the same in every row of one evaluation. */
  readonly aurra: number;
}

/** Column names of the extended table, in order (values ×100); the CCR columns follow CCR_FPR_LEVELS. */
export const EXTENDED_METRIC_COLUMNS = [
  'AUTC',
  'OSCR',
  'CCR@FPR1e-4',
  'CCR@FPR1e-3',
  'CCR@FPR1e-2',
  'CCR@FPR1e-1',
  'AURRA',
  'DET_ERR',
] as const;
export type ExtendedMetricColumn = (typeof EXTENDED_METRIC_COLUMNS)[number];

export type ExtendedPercentRow = { dataset: string } & Record<ExtendedMetricColumn, number>;

/** The extended metrics of ID scores (with predictions and labels) against one OOD split. */
export function extendedMetricsRow(group: 'near' | 'far', id: SplitScores, ood: SplitScores): ExtendedMetricsRow {
  const m = computeExtendedMetrics(id.conf, ood.conf, { idPred: id.pred, idLabels: id.labels });
  return {
    dataset: ood.name,
    group,
    isMean: false,
    autc: m.autc,
    detectionError: m.detectionError,
    oscr: m.oscr!,
    ccr: m.ccrAtFpr!.map((c) => c.ccr),
    aurra: m.aurra!,
  };
}

/** The rows of one group and their unweighted mean (`nearood` / `farood`), as OpenOOD lays out its table. */
export function extendedGroupRows(group: 'near' | 'far', rows: readonly ExtendedMetricsRow[]): ExtendedMetricsRow[] {
  if (rows.length === 0) return [];
  const mean = (pick: (r: ExtendedMetricsRow) => number) => rows.reduce((s, r) => s + pick(r), 0) / rows.length;
  return [
    ...rows,
    {
      dataset: group === 'near' ? 'nearood' : 'farood',
      group,
      isMean: true,
      autc: mean((r) => r.autc),
      detectionError: mean((r) => r.detectionError),
      oscr: mean((r) => r.oscr),
      ccr: CCR_FPR_LEVELS.map((_, k) => mean((r) => r.ccr[k]!)),
      aurra: mean((r) => r.aurra),
    },
  ];
}

export function toExtendedPercentRow(row: ExtendedMetricsRow): ExtendedPercentRow {
  const values = [row.autc, row.oscr, ...row.ccr, row.aurra, row.detectionError];
  const out = { dataset: row.dataset } as ExtendedPercentRow;
  EXTENDED_METRIC_COLUMNS.forEach((column, k) => (out[column] = 100 * values[k]!));
  return out;
}
