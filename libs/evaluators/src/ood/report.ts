import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, writeFileAtomic, writeNpy } from '@oodkit/core';
import type { CsidRow, MetricsRow, OodEvaluation } from './evaluate.js';
import { EXTENDED_METRIC_COLUMNS, toExtendedPercentRow, type ExtendedMetricsRow, type ExtendedPercentRow } from './extended-rows.js';

/**
 * OpenOOD's CSV columns in its order — ACC is the classifier's accuracy on ID test, the same for every
 * method of one model — then PRED_ACC, the accuracy of the postprocessor's own predictions.
 */
export const METRIC_COLUMNS = ['FPR@95', 'AUROC', 'AUPR_IN', 'AUPR_OUT', 'ACC', 'PRED_ACC'] as const;
export type MetricColumn = (typeof METRIC_COLUMNS)[number];

/** A row ×100, keyed by OpenOOD's column names. */
export type PercentRow = { dataset: string } & Record<MetricColumn, number>;

export function toPercentRow(row: MetricsRow): PercentRow {
  return {
    dataset: row.dataset,
    'FPR@95': 100 * row.fpr95,
    AUROC: 100 * row.auroc,
    AUPR_IN: 100 * row.auprIn,
    AUPR_OUT: 100 * row.auprOut,
    ACC: 100 * row.acc,
    PRED_ACC: 100 * row.predAcc,
  };
}

/**
 * `x` with two decimals the way Python's `'{:.2f}'.format` does it: the exact binary value rounded,
 * exact ties to even (JavaScript's toFixed breaks exact ties upward: 12.125 → "12.13", Python "12.12").
 */
export function formatFixed2(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const exact = Math.abs(x).toFixed(60);
  const dot = exact.indexOf('.');
  const rest = exact.slice(dot + 3);
  if (/^50*$/.test(rest)) {
    const truncated = exact.slice(0, dot + 3);
    const lastDigit = Number(truncated[truncated.length - 1]);
    const down = lastDigit % 2 === 0;
    const magnitude = down ? truncated : (Number(truncated) + 0.01).toFixed(2);
    return (x < 0 ? '-' : '') + magnitude;
  }
  return x.toFixed(2);
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** `dataset,FPR@95,AUROC,AUPR_IN,AUPR_OUT,ACC,PRED_ACC`, values ×100 with two decimals. */
export function metricsCsv(rows: readonly MetricsRow[]): string {
  const lines = [['dataset', ...METRIC_COLUMNS].join(',')];
  for (const row of rows) {
    const p = toPercentRow(row);
    lines.push([csvField(p.dataset), ...METRIC_COLUMNS.map((c) => formatFixed2(p[c]))].join(','));
  }
  return lines.join('\n') + '\n';
}

/**
 * OpenOOD's FSOOD csid.csv: one row per CSID split, its OOD columns `-`, ACC the classifier's accuracy on
 * that split alone; then PRED_ACC, the method's.
 */
export function csidCsv(rows: readonly CsidRow[]): string {
  const lines = [['dataset', ...METRIC_COLUMNS].join(',')];
  for (const row of rows) {
    lines.push([csvField(row.dataset), '-', '-', '-', '-', formatFixed2(100 * row.acc), formatFixed2(100 * row.predAcc)].join(','));
  }
  return lines.join('\n') + '\n';
}

/** `dataset,AUTC,OSCR,CCR@FPR1e-4,…,AURRA,DET_ERR` (metrics beyond OpenOOD), values ×100 with two decimals. */
export function extendedMetricsCsv(rows: readonly ExtendedMetricsRow[]): string {
  const lines = [['dataset', ...EXTENDED_METRIC_COLUMNS].join(',')];
  for (const row of rows) {
    const p = toExtendedPercentRow(row);
    lines.push([csvField(p.dataset), ...EXTENDED_METRIC_COLUMNS.map((c) => formatFixed2(p[c]))].join(','));
  }
  return lines.join('\n') + '\n';
}

/**
 * Version of what an evaluation computes and writes; cached evaluations (bench products) carry it in
 * their key, so a change of semantics recomputes them. 2: ACC = the classifier's accuracy + PRED_ACC,
 * openmax conf = −P(unknown), nnguide's ordered bank, the grid in the JSON. 3: CSID splits count as
 * ID only in full-spectrum mode (`fsood`), which also reports them per set.
 */
export const EVALUATION_FORMAT = 3;

/** The JSON document of one evaluation (metric values ×100, unrounded). */
export interface OodEvaluationJson {
  readonly postprocessor: string;
  readonly hyperparameters: Record<string, unknown>;
  readonly aps: {
    best: Record<string, unknown>;
    bestValAuroc: number;
    trials: { values: Record<string, unknown>; valAuroc: number }[];
  } | null;
  /** The grid APS searched (null without APS). */
  readonly grid: Readonly<Record<string, readonly unknown[]>> | null;
  /** The classifier's ID accuracy ×100 (ACC). */
  readonly idAccuracy: number;
  /** The postprocessor's own prediction accuracy on ID ×100 (PRED_ACC). */
  readonly predAccuracy: number;
  readonly rows: PercentRow[];
  /** Full-spectrum mode: CSID splits counted as ID (absent in records written before it existed). */
  readonly fsood?: boolean;
  /** Full-spectrum mode: per CSID split, count and ACC / PRED_ACC ×100. */
  readonly csid?: { dataset: string; count: number; ACC: number; PRED_ACC: number }[];
  /** Metrics beyond OpenOOD, ×100 (absent in records written before they existed). */
  readonly extended?: ExtendedPercentRow[];
  readonly scores: { split: string; count: number; file: string }[];
}

export function scoresFileName(postprocessor: string, split: string): string {
  return `${postprocessor}__${split}.npy`;
}

export function evaluationToJson(evaluation: OodEvaluation): OodEvaluationJson {
  return {
    postprocessor: evaluation.postprocessor,
    hyperparameters: evaluation.hyperparameters,
    aps: evaluation.aps
      ? {
          best: evaluation.aps.best,
          bestValAuroc: 100 * evaluation.aps.bestAuroc,
          trials: evaluation.aps.trials.map((t) => ({ values: t.values, valAuroc: 100 * t.auroc })),
        }
      : null,
    grid: evaluation.grid ?? null,
    idAccuracy: 100 * evaluation.idAccuracy,
    predAccuracy: 100 * evaluation.predAccuracy,
    rows: evaluation.rows.map(toPercentRow),
    fsood: evaluation.fsood,
    csid: evaluation.csid.map((r) => ({ dataset: r.dataset, count: r.count, ACC: 100 * r.acc, PRED_ACC: 100 * r.predAcc })),
    extended: evaluation.extended.map(toExtendedPercentRow),
    scores: evaluation.scores.map((s) => ({ split: s.name, count: s.conf.length, file: scoresFileName(evaluation.postprocessor, s.name) })),
  };
}

export interface WrittenEvaluation {
  readonly csv: string;
  readonly json: string;
  readonly scoreFiles: string[];
}

/**
 * Write `<pp>__metrics.csv` (OpenOOD's columns), `<pp>__metrics_extended.csv` (metrics beyond OpenOOD),
 * `<pp>__metrics.json` (with the chosen hyperparameters and the APS trials), in full-spectrum mode
 * `<pp>__csid.csv` (per CSID split accuracy, OpenOOD's FSOOD csid.csv)
 * and per split `<pp>__<split>.npy` (conf, float64) and `<pp>__<split>.pred.npy` (int32), each atomically.
 */
export async function writeOodEvaluation(
  outDir: string,
  evaluation: OodEvaluation,
  options: { saveScores?: boolean } = {},
): Promise<WrittenEvaluation> {
  await mkdir(outDir, { recursive: true });
  const pp = evaluation.postprocessor;
  const scoreFiles: string[] = [];
  if (options.saveScores ?? true) {
    for (const s of evaluation.scores) {
      const confFile = join(outDir, scoresFileName(pp, s.name));
      await writeNpy(confFile, { data: s.conf });
      await writeNpy(join(outDir, `${pp}__${s.name}.pred.npy`), { data: s.pred });
      scoreFiles.push(confFile);
    }
  }
  const csv = join(outDir, `${pp}__metrics.csv`);
  const json = join(outDir, `${pp}__metrics.json`);
  await writeFileAtomic(csv, metricsCsv(evaluation.rows));
  await writeFileAtomic(join(outDir, `${pp}__metrics_extended.csv`), extendedMetricsCsv(evaluation.extended));
  if (evaluation.fsood) await writeFileAtomic(join(outDir, `${pp}__csid.csv`), csidCsv(evaluation.csid));
  await writeFileAtomic(json, JSON.stringify(evaluationToJson(evaluation), null, 2) + '\n');
  return { csv, json, scoreFiles };
}

// ---------------------------------------------------------------------------------------------
// Multi-seed aggregation

export interface RunTable {
  /** Run name (e.g. `s0`); runs are aggregated in sorted order of this name. */
  readonly run: string;
  readonly rows: readonly PercentRow[];
}

export interface AggregateRow {
  readonly dataset: string;
  readonly mean: Record<MetricColumn, number>;
  /** Population standard deviation (numpy's default ddof=0), as OpenOOD reports. */
  readonly std: Record<MetricColumn, number>;
}

/**
 * Mean and population std of every metric over runs, as OpenOOD's multi-seed scripts do: runs sorted
 * by name (Python's `sorted`, code-unit order), every run must have the same datasets in the same order.
 */
export function aggregateRuns(runs: readonly RunTable[]): AggregateRow[] {
  if (runs.length === 0) throw new DataError('aggregate: no run to aggregate');
  const sorted = [...runs].sort((a, b) => (a.run < b.run ? -1 : a.run > b.run ? 1 : 0));
  const datasets = sorted[0]!.rows.map((r) => r.dataset);
  for (const run of sorted) {
    const names = run.rows.map((r) => r.dataset);
    if (names.join('\u0000') !== datasets.join('\u0000')) {
      throw new DataError(
        `aggregate: run '${run.run}' has datasets [${names.join(', ')}], run '${sorted[0]!.run}' has [${datasets.join(', ')}]`,
      );
    }
  }
  return datasets.map((dataset, i) => {
    const mean = {} as Record<MetricColumn, number>;
    const std = {} as Record<MetricColumn, number>;
    for (const column of METRIC_COLUMNS) {
      const values = sorted.map((run) => run.rows[i]![column]);
      const m = values.reduce((s, v) => s + v, 0) / values.length;
      mean[column] = m;
      std[column] = Math.sqrt(values.reduce((s, v) => s + (v - m) * (v - m), 0) / values.length);
    }
    return { dataset, mean, std };
  });
}

/** `dataset,FPR@95,...` with cells `mean ± std` (two decimals each). */
export function aggregateCsv(rows: readonly AggregateRow[]): string {
  const lines = [['dataset', ...METRIC_COLUMNS].join(',')];
  for (const row of rows) {
    lines.push(
      [csvField(row.dataset), ...METRIC_COLUMNS.map((c) => `${formatFixed2(row.mean[c])} \u00b1 ${formatFixed2(row.std[c])}`)].join(','),
    );
  }
  return lines.join('\n') + '\n';
}
