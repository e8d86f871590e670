import { describe, expect, it } from 'vitest';
import type { OodEvaluationJson } from '@oodkit/evaluators';
import { extendedMetricsTable } from '../src/benchmark/extended-metrics.js';
import type { CellRecord } from '../src/benchmark/summary.js';

const row = (dataset: string, v: number) => ({
  dataset,
  AUTC: v,
  OSCR: v + 1,
  'CCR@FPR1e-4': 0,
  'CCR@FPR1e-3': 0,
  'CCR@FPR1e-2': 0,
  'CCR@FPR1e-1': v + 2,
  AURRA: 90,
  DET_ERR: v + 3,
});

function cell(seed: number, variant: 'baseline' | 'sio', extended?: ReturnType<typeof row>[]): CellRecord {
  const evaluation = {
    postprocessor: 'msp',
    hyperparameters: {},
    aps: null,
    grid: null,
    idAccuracy: 99,
    predAccuracy: 99,
    rows: [],
    scores: [],
    extended,
  } as OodEvaluationJson;
  return { trainer: 'base', variant, seed, postprocessor: 'msp', evaluation, evalDir: '', trainAccuracy: null };
}

describe('bench report: metrics beyond OpenOOD', () => {
  it('one row per (trainer, variant, method): near/far means over seeds, population std', () => {
    const table = extendedMetricsTable([
      cell(0, 'baseline', [row('nearood', 10), row('farood', 20)]),
      cell(1, 'baseline', [row('nearood', 14), row('farood', 20)]),
      cell(0, 'sio', [row('farood', 30)]),
    ])!;
    expect(table.columns[0]).toBe('method');
    expect(table.columns).toContain('far OSCR ↑');
    expect(table.rows.map((r) => r[0])).toEqual(['base / baseline / msp', 'base / +SIO / msp']);
    const col = (label: string) => table.columns.indexOf(label);
    expect(table.rows[0]![col('near AUTC ↓')]).toBe('12.00 ± 2.00');
    expect(table.rows[0]![col('far det. error ↓')]).toBe('23.00 ± 0.00');
    expect(table.rows[0]![col('near CCR@FPR10% ↑')]).toBe('14.00 ± 2.00');
    expect(table.rows[0]![col('AURRA (ID) ↑')]).toBe('90.00 ± 0.00');
    // a model evaluated without near datasets shows a dash there, AURRA comes from any row
    expect(table.rows[1]![col('near OSCR ↑')]).toBe('–');
    expect(table.rows[1]![col('far OSCR ↑')]).toBe('31.00 ± 0.00');
    expect(table.rows[1]![col('AURRA (ID) ↑')]).toBe('90.00 ± 0.00');
  });
  it('cached records from before these metrics are left out; none at all gives no table', () => {
    expect(extendedMetricsTable([cell(0, 'baseline')])).toBeUndefined();
    expect(extendedMetricsTable([cell(0, 'baseline'), cell(0, 'sio', [row('nearood', 1)])])!.rows).toHaveLength(1);
  });
});
