import { join } from 'node:path';
import { readNpyAsFloat64, stringifyConfig, type ImageDataset } from '@oodkit/core';
import { previewGrid, type LoadedBenchmark } from '@oodkit/data';
import { METRIC_COLUMNS, rankConfidences, rocCurve, type FeatureSplitsInput } from '@oodkit/evaluators';
import type { GeneratedSet } from '@oodkit/sio';
import type { HistogramChart, ReportImage, ReportModel, ReportTable, RocChart } from '../report/report-model.js';
import type { BenchSection } from './bench-section.js';
import { extendedMetricsTable } from './extended-metrics.js';
import type { BenchSummary, CellRecord } from './summary.js';
import { formatHyperparameters } from './hyperparameters.js';
import type { GeneratorQuality } from './generator-quality.js';
import { generatorQualityRows, GENERATOR_QUALITY_COLUMNS, pairedPowerNote } from './sio-table.js';

export interface ReportInputs {
  readonly config: Record<string, unknown>;
  readonly bench: BenchSection;
  readonly loaded: LoadedBenchmark;
  readonly cells: readonly CellRecord[];
  readonly summary: BenchSummary;
  /** The synthetic sets the SIO variants train on (sample grids). */
  readonly synthetic?: readonly GeneratedSet[];
  readonly generatorQuality?: readonly GeneratorQuality[];
  readonly roles: FeatureSplitsInput;
  readonly failures?: readonly { cell: string; postprocessor: string; message: string }[];
}

/** At most `n` points of a curve, evenly spaced in index, first and last kept. */
export function downsample(xs: ArrayLike<number>, ys: ArrayLike<number>, n: number): { x: number[]; y: number[] } {
  const m = xs.length;
  if (m <= n) return { x: Array.from(xs), y: Array.from(ys) };
  const x: number[] = [];
  const y: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = Math.round((k * (m - 1)) / (n - 1));
    x.push(xs[i]!);
    y.push(ys[i]!);
  }
  return { x, y };
}

/** Densities of each series over shared bins spanning the 0.5–99.5 % quantiles of all values. */
export function histogram(
  series: readonly { label: string; values: Float64Array }[],
  bins: number,
): Pick<HistogramChart, 'centers' | 'series'> {
  const all = Float64Array.from(series.flatMap((s) => Array.from(s.values))).sort();
  const q = (p: number) => all[Math.min(all.length - 1, Math.max(0, Math.floor(p * (all.length - 1))))]!;
  let lo = q(0.005);
  let hi = q(0.995);
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const width = (hi - lo) / bins;
  const centers = Array.from({ length: bins }, (_, b) => lo + (b + 0.5) * width);
  return {
    centers,
    series: series.map((s) => {
      const counts = new Float64Array(bins);
      for (const v of s.values) counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]! += 1;
      return { label: s.label, density: Array.from(counts, (c) => c / (s.values.length * width)) };
    }),
  };
}

/** Up to n images of each of the first n classes, one class per row. */
function perClassIndices(dataset: ImageDataset, n: number): number[] {
  const rows: number[][] = Array.from({ length: Math.min(n, Math.max(1, dataset.numClasses)) }, () => []);
  for (let i = 0; i < dataset.length; i++) {
    const row = rows[dataset.labels[i]!];
    if (row && row.length < n) row.push(i);
    if (rows.every((r) => r.length >= n)) break;
  }
  return rows.flat();
}

async function sampleImage(label: string, dataset: ImageDataset, n: number): Promise<ReportImage> {
  const indices = perClassIndices(dataset, n);
  const png = await previewGrid(dataset, indices, { cols: n, scale: dataset.imageShape[0] < 64 ? 2 : 1 });
  return { label, pngBase64: png.toString('base64') };
}

async function scoresOf(cell: CellRecord, split: string): Promise<Float64Array> {
  const entry = cell.evaluation.scores.find((s) => s.split === split);
  if (!entry) throw new Error(`evaluation of ${cell.postprocessor} has no scores for split '${split}'`);
  return (await readNpyAsFloat64(join(cell.evalDir, entry.file))).data;
}

/** Everything report.html shows, from the finished cells (scores are read back from their .npy files). */
export async function buildReport(inputs: ReportInputs): Promise<ReportModel> {
  const { bench, loaded, cells, summary, roles } = inputs;
  const firstSeed = [...bench.seeds].sort((a, b) => a - b)[0];
  // charts: the default variants only (ablation variants are in the tables)
  const shown = cells.filter((c) => c.seed === firstSeed && (c.variant === 'baseline' || c.variant === 'sio'));
  const multiTrainer = new Set(cells.map((c) => c.trainer)).size > 1;
  const labelOf = (c: CellRecord) =>
    `${multiTrainer ? `${c.trainer} ` : ''}${c.postprocessor} ${c.variant === 'sio' ? '+SIO' : 'baseline'}`;
  const methodOf = (c: CellRecord) => `${c.trainer} / ${c.postprocessor}`;
  const near = roles.near ?? [];
  const far = roles.far ?? [];
  const idSplit = roles.test;

  const roc: RocChart[] = [];
  for (const dataset of [...near, ...far]) {
    const curves = [];
    for (const cell of shown) {
      const curve = rocCurve(rankConfidences(await scoresOf(cell, idSplit), await scoresOf(cell, dataset)));
      const { x, y } = downsample(curve.fpr, curve.tpr, bench.report.roc_points);
      curves.push({ label: labelOf(cell), method: methodOf(cell), variant: cell.variant, fpr: x, tpr: y });
    }
    roc.push({ dataset, curves });
  }

  const histograms: HistogramChart[] = [];
  for (const cell of shown) {
    const concat = async (splits: readonly string[]) =>
      Float64Array.from((await Promise.all(splits.map((s) => scoresOf(cell, s)))).flatMap((a) => Array.from(a)));
    const series = [{ label: 'ID test', values: await scoresOf(cell, idSplit) }];
    if (near.length > 0) series.push({ label: 'near-OOD', values: await concat(near) });
    if (far.length > 0) series.push({ label: 'far-OOD', values: await concat(far) });
    histograms.push({
      title: `${labelOf(cell)} (seed ${cell.seed})`,
      method: methodOf(cell),
      variant: cell.variant,
      ...histogram(series, bench.report.histogram_bins),
    });
  }

  const seeds = [...bench.seeds].sort((a, b) => a - b);
  const chosen: ReportTable = {
    title: `Hyperparameters per method and seed (APS: searched on ID val vs OOD val; fixed: as configured)`,
    columns: ['trainer', 'method', 'variant', 'search', 'all seeds', ...seeds.map((s) => `seed ${s}`)],
    rows: summary.hyperparameters.map((h) => [
      h.trainer,
      h.postprocessor,
      h.variant === 'sio' ? '+SIO' : 'baseline',
      h.searched ? 'APS' : 'fixed',
      h.display,
      ...seeds.map((s) => {
        const values = h.perSeed.find((p) => p.seed === s)?.values;
        return values ? formatHyperparameters(values) : '';
      }),
    ]),
  };
  const tables: ReportTable[] = summary.aggregated.map((t) => ({
    title: `${t.trainer} / ${t.variant === 'sio' ? '+SIO' : 'baseline'} / ${t.postprocessor} — ${t.runs.join(', ')}; ACC (classifier) ${t.idAccuracy.mean.toFixed(2)} ± ${t.idAccuracy.std.toFixed(2)}, PRED_ACC (method) ${t.predAccuracy.mean.toFixed(2)} ± ${t.predAccuracy.std.toFixed(2)}`,
    columns: ['dataset', ...METRIC_COLUMNS],
    rows: t.rows.map((r) => [r.dataset, ...METRIC_COLUMNS.map((m) => `${r.mean[m].toFixed(2)} ± ${r.std[m].toFixed(2)}`)]),
  }));
  tables.unshift(chosen);

  const extended = extendedMetricsTable(cells);
  if (extended) tables.push(extended);
  if (inputs.generatorQuality && inputs.generatorQuality.length > 0) {
    tables.unshift({
      title:
        'Synthetic data quality: accuracy of a classifier trained on real data only (the judge) on the samples, and the Fréchet distance between its penultimate features of real ID test images and of the samples (floor: real ID val vs real ID test)',
      columns: GENERATOR_QUALITY_COLUMNS,
      rows: generatorQualityRows(inputs.generatorQuality),
    });
  }

  const n = bench.report.sample_grid;
  const images = [await sampleImage(`real ID training images (${loaded.id.train.name})`, loaded.id.train, n)];
  for (const set of inputs.synthetic ?? []) images.push(await sampleImage(`synthetic images (${set.dataset.name})`, set.dataset, n));

  const notes = [
    `${new Set(cells.map((c) => `${c.trainer}/${c.variant}/${c.seed}`)).size} trained models × ${new Set(cells.map((c) => c.postprocessor)).size} postprocessors; seeds ${bench.seeds.join(', ')}; ROC curves and histograms show seed ${firstSeed}.`,
    `OOD is the positive class; FPR@95 is the fraction of ID test images flagged OOD when 95 % of OOD images are caught. near = ${near.join(', ') || '—'}; far = ${far.join(', ') || '—'}.`,
  ];
  for (const f of inputs.failures ?? []) notes.push(`FAILED: ${f.postprocessor} on ${f.cell}: ${f.message}`);
  if (summary.rows.some((r) => Object.keys(r.paired).length > 0)) notes.push(pairedPowerNote(bench.seeds.length));
  notes.push(
    "ACC is the classifier's accuracy (argmax of its logits) on the ID test split, CSID sets included when declared — " +
      'the same for every method of one model, as OpenOOD reports it. PRED_ACC is the accuracy of the predictions each ' +
      'method makes itself (ReAct, ASH, SCALE, DICE, OpenMax, ... change them).',
  );

  return {
    title: `oodkit benchmark: ${loaded.config.name} — does synthetic ID data (SIO) help OOD detection?`,
    benchmark: loaded.config.name,
    createdAt: new Date().toISOString(),
    summary: summary.rows,
    tables,
    roc,
    histograms,
    images,
    configYaml: stringifyConfig(inputs.config),
    notes,
  };
}
