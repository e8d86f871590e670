import type { ExtendedMetricColumn, ExtendedPercentRow } from '@oodkit/evaluators';
import type { ReportTable } from '../report/report-model.js';
import { meanStd, type CellRecord } from './summary.js';

/** Columns of the report's extended-metrics table: (row of the evaluation, metric, label). */
/** AURRA depends on the ID test set only (the same in every row), so any row gives it. */
const COLUMNS: readonly { dataset: 'nearood' | 'farood' | 'any'; metric: ExtendedMetricColumn; label: string }[] = [
  { dataset: 'nearood', metric: 'AUTC', label: 'near AUTC ↓' },
  { dataset: 'farood', metric: 'AUTC', label: 'far AUTC ↓' },
  { dataset: 'nearood', metric: 'OSCR', label: 'near OSCR ↑' },
  { dataset: 'farood', metric: 'OSCR', label: 'far OSCR ↑' },
  { dataset: 'nearood', metric: 'CCR@FPR1e-1', label: 'near CCR@FPR10% ↑' },
  { dataset: 'farood', metric: 'CCR@FPR1e-1', label: 'far CCR@FPR10% ↑' },
  { dataset: 'nearood', metric: 'DET_ERR', label: 'near det. error ↓' },
  { dataset: 'farood', metric: 'DET_ERR', label: 'far det. error ↓' },
  { dataset: 'any', metric: 'AURRA', label: 'AURRA (ID) ↑' },
];

/**
 * One report table with the metrics beyond OpenOOD (×100, mean ± population std over seeds) per
 * (trainer, variant, postprocessor), read from the cells' evaluation JSON. Cells evaluated before
 * these metrics existed (cached records without `extended`) are left out; undefined when none has them.
 */
export function extendedMetricsTable(cells: readonly CellRecord[]): ReportTable | undefined {
  const groups = new Map<string, { label: string; rows: ExtendedPercentRow[][] }>();
  for (const cell of cells) {
    const rows = cell.evaluation.extended;
    if (!rows) continue;
    const key = `${cell.trainer}\u0000${cell.variant}\u0000${cell.postprocessor}`;
    const label = `${cell.trainer} / ${cell.variant === 'sio' ? '+SIO' : 'baseline'} / ${cell.postprocessor}`;
    const group = groups.get(key) ?? { label, rows: [] };
    group.rows.push(rows);
    groups.set(key, group);
  }
  if (groups.size === 0) return undefined;
  const cell = (runs: ExtendedPercentRow[][], dataset: string, metric: ExtendedMetricColumn): string => {
    const values = runs
      .map((rows) => (dataset === 'any' ? rows[0] : rows.find((r) => r.dataset === dataset))?.[metric])
      .filter((v): v is number => v !== undefined);
    if (values.length === 0) return '–';
    const m = meanStd(values);
    return `${m.mean.toFixed(2)} ± ${m.std.toFixed(2)}`;
  };
  return {
    title: 'Metrics beyond OpenOOD (AUTC, OSCR, CCR at 10 % FPR, detection error, AURRA of the ID test set), near/far means',
    columns: ['method', ...COLUMNS.map((c) => c.label)],
    rows: [...groups.values()].map((g) => [g.label, ...COLUMNS.map((c) => cell(g.rows, c.dataset, c.metric))]),
  };
}
