import { METRIC_COLUMNS, aggregateCsv, aggregateRuns, pairedTTest, type AggregateRow, type OodEvaluationJson } from '@oodkit/evaluators';
import type { MeanStd, PairedDelta, SummaryRow } from '../report/report-model.js';
import { chosenHyperparameters, hyperparameterPair, type ChosenHyperparameters } from './hyperparameters.js';

/** One evaluated cell: a trained model (trainer, variant, seed) scored by one postprocessor. */
export interface CellRecord {
  readonly trainer: string;
  /** `baseline`, `sio` or an ablation variant's name. */
  readonly variant: string;
  readonly seed: number;
  /** Postprocessor label (its name, or name#k when listed twice). */
  readonly postprocessor: string;
  readonly evaluation: OodEvaluationJson;
  readonly evalDir: string;
  readonly trainAccuracy: number | null;
}

export interface AggregatedTable {
  readonly trainer: string;
  readonly variant: string;
  readonly postprocessor: string;
  readonly runs: readonly string[];
  readonly rows: readonly AggregateRow[];
  /** The classifier's ID accuracy (ACC), mean over seeds. */
  readonly idAccuracy: MeanStd;
  /** The postprocessor's own prediction accuracy on ID (PRED_ACC), mean over seeds. */
  readonly predAccuracy: MeanStd;
  /** File stem under tables/. */
  readonly file: string;
  readonly csv: string;
}

export interface BenchSummary {
  readonly rows: readonly SummaryRow[];
  readonly aggregated: readonly AggregatedTable[];
  readonly csv: string;
  readonly perRunCsv: string;
  readonly json: unknown;
  /** What every method was scored with (APS's choice per seed). */
  readonly hyperparameters: readonly ChosenHyperparameters[];
}

/** Mean and population std (numpy's default), as OpenOOD reports over seeds. */
export function meanStd(values: readonly number[]): MeanStd {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) * (v - mean), 0) / n);
  return { mean, std, n };
}

const runName = (seed: number) => `s${seed}`;
const byRunName = (a: CellRecord, b: CellRecord) => (runName(a.seed) < runName(b.seed) ? -1 : runName(a.seed) > runName(b.seed) ? 1 : 0);

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

function pick(table: AggregatedTable | undefined, dataset: string, column: 'AUROC' | 'FPR@95'): MeanStd | undefined {
  const row = table?.rows.find((r) => r.dataset === dataset);
  return row ? { mean: row.mean[column], std: row.std[column], n: table!.runs.length } : undefined;
}

const csvNumber = (x: number | undefined) => (x === undefined ? '' : x.toFixed(4));
const csvText = (text: string) => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

/** Significance level of the per-row paired test. */
export const PAIRED_ALPHA = 0.05;

type PairedMetric = 'nearAuroc' | 'farAuroc' | 'nearFpr95' | 'farFpr95';
const PAIRED_METRICS: readonly [PairedMetric, string, 'AUROC' | 'FPR@95'][] = [
  ['nearAuroc', 'nearood', 'AUROC'],
  ['farAuroc', 'farood', 'AUROC'],
  ['nearFpr95', 'nearood', 'FPR@95'],
  ['farFpr95', 'farood', 'FPR@95'],
];

/**
 * The paired test of one metric: +SIO seed s against baseline seed s, over the seeds both have (in
 * ascending seed order). Undefined without a common seed.
 */
function pairedDelta(
  baseline: readonly CellRecord[],
  sio: readonly CellRecord[],
  dataset: string,
  column: 'AUROC' | 'FPR@95',
): PairedDelta | undefined {
  const value = (c: CellRecord) => c.evaluation.rows.find((r) => r.dataset === dataset)?.[column];
  const bySeed = new Map(baseline.map((c) => [c.seed, value(c)]));
  const seeds: number[] = [];
  const control: number[] = [];
  const treatment: number[] = [];
  for (const c of [...sio].sort((a, b) => a.seed - b.seed)) {
    const b = bySeed.get(c.seed);
    const t = value(c);
    if (b === undefined || t === undefined) continue;
    seeds.push(c.seed);
    control.push(b);
    treatment.push(t);
  }
  if (seeds.length === 0) return undefined;
  const test = pairedTTest(control, treatment);
  return {
    seeds,
    deltas: test.deltas,
    meanDelta: test.meanDelta,
    t: test.t,
    p: test.p,
    signs: test.signs,
    significant: Number.isFinite(test.p) && test.p < PAIRED_ALPHA,
  };
}

/**
 * Aggregates cells over seeds (runs in sorted name order, population std) into one OpenOOD table per
 * (trainer, variant, postprocessor), and per (trainer, postprocessor, SIO variant) the summary row:
 * baseline vs that variant, with a paired t-test per metric (the seeds are the pairs).
 */
export function summarize(cells: readonly CellRecord[]): BenchSummary {
  const aggregated: AggregatedTable[] = [];
  for (const group of groupBy(cells, (c) => `${c.trainer}\u0000${c.variant}\u0000${c.postprocessor}`).values()) {
    const runs = [...group].sort(byRunName);
    const first = runs[0]!;
    const rows = aggregateRuns(runs.map((c) => ({ run: runName(c.seed), rows: c.evaluation.rows })));
    const file = `${first.trainer}_${first.variant}_${first.postprocessor}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    aggregated.push({
      trainer: first.trainer,
      variant: first.variant,
      postprocessor: first.postprocessor,
      runs: runs.map((c) => runName(c.seed)),
      rows,
      idAccuracy: meanStd(runs.map((c) => c.evaluation.idAccuracy)),
      predAccuracy: meanStd(runs.map((c) => c.evaluation.predAccuracy)),
      file,
      csv: aggregateCsv(rows),
    });
  }

  const rows: SummaryRow[] = [];
  const cellGroups = groupBy(cells, (c) => `${c.trainer}\u0000${c.variant}\u0000${c.postprocessor}`);
  for (const group of groupBy(aggregated, (t) => `${t.trainer}\u0000${t.postprocessor}`).values()) {
    const baseline = group.find((t) => t.variant === 'baseline');
    const sioTables = group.filter((t) => t.variant !== 'baseline');
    const { trainer, postprocessor } = group[0]!;
    const cellsOf = (variant: string) => cellGroups.get(`${trainer}\u0000${variant}\u0000${postprocessor}`) ?? [];
    for (const sio of sioTables.length > 0 ? sioTables : [undefined]) {
      const paired: Partial<Record<PairedMetric, PairedDelta>> = {};
      if (baseline && sio) {
        for (const [metric, dataset, column] of PAIRED_METRICS) {
          const test = pairedDelta(cellsOf('baseline'), cellsOf(sio.variant), dataset, column);
          if (test) paired[metric] = test;
        }
      }
      rows.push({
        trainer,
        postprocessor,
        variant: sio?.variant ?? 'sio',
        idAcc: { baseline: baseline?.idAccuracy, sio: sio?.idAccuracy },
        predAcc: { baseline: baseline?.predAccuracy, sio: sio?.predAccuracy },
        nearAuroc: { baseline: pick(baseline, 'nearood', 'AUROC'), sio: pick(sio, 'nearood', 'AUROC') },
        farAuroc: { baseline: pick(baseline, 'farood', 'AUROC'), sio: pick(sio, 'farood', 'AUROC') },
        nearFpr95: { baseline: pick(baseline, 'nearood', 'FPR@95'), sio: pick(sio, 'nearood', 'FPR@95') },
        farFpr95: { baseline: pick(baseline, 'farood', 'FPR@95'), sio: pick(sio, 'farood', 'FPR@95') },
        paired,
      });
    }
  }

  const metrics = ['nearAuroc', 'farAuroc', 'nearFpr95', 'farFpr95', 'idAcc', 'predAcc'] as const;
  const hyperparameters = chosenHyperparameters(cells);
  const header = ['trainer', 'postprocessor'];
  for (const m of metrics) for (const v of ['baseline', 'sio']) header.push(`${m}_${v}_mean`, `${m}_${v}_std`);
  for (const m of metrics) header.push(`${m}_delta`);
  for (const [m] of PAIRED_METRICS) header.push(`${m}_p`, `${m}_signs`);
  header.push('sio_variant', 'hyperparameters_baseline', 'hyperparameters_sio');
  const csvLines = [header.join(',')];
  for (const r of rows) {
    const cellsOut: string[] = [r.trainer, r.postprocessor];
    for (const m of metrics) for (const v of ['baseline', 'sio'] as const) cellsOut.push(csvNumber(r[m][v]?.mean), csvNumber(r[m][v]?.std));
    for (const m of metrics) cellsOut.push(r[m].baseline && r[m].sio ? csvNumber(r[m].sio!.mean - r[m].baseline!.mean) : '');
    for (const [m] of PAIRED_METRICS) {
      const test = r.paired[m];
      cellsOut.push(test && Number.isFinite(test.p) ? test.p.toPrecision(4) : '', test ? signString(test.signs) : '');
    }
    const hp = hyperparameterPair(hyperparameters, r.trainer, r.postprocessor, r.variant);
    cellsOut.push(r.variant, csvText(hp.baseline ?? ''), csvText(hp.sio ?? ''));
    csvLines.push(cellsOut.join(','));
  }

  const perRun = ['trainer,variant,seed,postprocessor,dataset,' + METRIC_COLUMNS.join(',')];
  for (const c of [...cells].sort((a, b) => a.trainer.localeCompare(b.trainer) || a.variant.localeCompare(b.variant) || a.seed - b.seed)) {
    for (const row of c.evaluation.rows) {
      perRun.push([c.trainer, c.variant, c.seed, c.postprocessor, row.dataset, ...METRIC_COLUMNS.map((m) => row[m].toFixed(4))].join(','));
    }
  }

  return {
    rows,
    aggregated,
    csv: csvLines.join('\n') + '\n',
    perRunCsv: perRun.join('\n') + '\n',
    hyperparameters,
    json: {
      summary: rows,
      hyperparameters,
      tables: aggregated.map(({ csv: _csv, ...t }) => t),
      runs: cells.map(({ evalDir: _d, ...c }) => c),
    },
  };
}

/** `+ + −` → `++−` (0 for a zero delta), in seed order. */
export function signString(signs: readonly number[]): string {
  return signs.map((s) => (s > 0 ? '+' : s < 0 ? '−' : '0')).join('');
}

/** `p 0.031*` (starred below PAIRED_ALPHA), `p –` where the test is undefined (one seed, no change). */
export function formatP(test: PairedDelta | undefined): string {
  if (!test || !Number.isFinite(test.p)) return 'p –';
  const p = test.p < 0.001 ? test.p.toExponential(1) : test.p.toFixed(3);
  return `p ${p}${test.significant ? '*' : ''}`;
}

/**
 * The console table: per method, baseline → +SIO (Δ) for near/far AUROC and FPR@95, the classifier's ID
 * accuracy (ACC, one value per model) and the method's own prediction accuracy (PRED_ACC).
 */
export function summaryTableRows(summary: BenchSummary): { head: string[]; rows: string[][] } {
  const trainers = new Set(summary.rows.map((r) => r.trainer));
  const variants = new Set(summary.rows.map((r) => r.variant));
  const head = [
    ...(trainers.size > 1 ? ['trainer'] : []),
    'method',
    ...(variants.size > 1 ? ['SIO variant'] : []),
    'near AUROC ↑ base → SIO (Δ)',
    'far AUROC ↑ base → SIO (Δ)',
    'near FPR@95 ↓ base → SIO (Δ)',
    'far FPR@95 ↓ base → SIO (Δ)',
    'ACC base → SIO',
    'PRED_ACC base → SIO',
    'hyperparameters base → SIO',
  ];
  const pair = (p: { baseline?: MeanStd; sio?: MeanStd }, test?: PairedDelta | null) => {
    const f = (m?: MeanStd) => (m === undefined ? '–' : m.mean.toFixed(2));
    if (!p.baseline || !p.sio) return `${f(p.baseline)} → ${f(p.sio)}`;
    const d = p.sio.mean - p.baseline.mean;
    if (test === null) return `${f(p.baseline)} → ${f(p.sio)}`;
    const tested = test && test.signs.length > 1 ? `, ${formatP(test)} ${signString(test.signs)}` : '';
    return `${f(p.baseline)} → ${f(p.sio)} (${d >= 0 ? '+' : ''}${d.toFixed(2)}${tested})`;
  };
  const rows = summary.rows.map((r) => [
    ...(trainers.size > 1 ? [r.trainer] : []),
    r.postprocessor,
    ...(variants.size > 1 ? [r.variant] : []),
    pair(r.nearAuroc, r.paired.nearAuroc),
    pair(r.farAuroc, r.paired.farAuroc),
    pair(r.nearFpr95, r.paired.nearFpr95),
    pair(r.farFpr95, r.paired.farFpr95),
    pair(r.idAcc, null),
    pair(r.predAcc, null),
    hyperparameterPair(summary.hyperparameters, r.trainer, r.postprocessor, r.variant).both,
  ]);
  return { head, rows };
}
