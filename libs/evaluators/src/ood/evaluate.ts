import { DataError, UsageError, type FeatureSplit, type Logger, type Postprocessor, type PostprocessorSetupData } from '@oodkit/core';
import { auroc, computeOodMetrics } from '../metrics/metrics.js';
import { gridCombinations, searchHyperparameters, type ApsResult, type HyperparameterGrid } from '../search/aps.js';
import { extendedGroupRows, extendedMetricsRow, type ExtendedMetricsRow } from './extended-rows.js';
import { ScoringProgress, type OodProgressEvent } from './progress.js';
import { assertRunnable, type FeatureSource, type SplitScores } from './source.js';

/** One table row; metric values are fractions (the writers multiply by 100). */
export interface MetricsRow {
  /** An OOD dataset, or `nearood` / `farood` for the unweighted means of the group. */
  readonly dataset: string;
  readonly group: 'near' | 'far';
  readonly isMean: boolean;
  readonly fpr95: number;
  readonly auroc: number;
  readonly auprIn: number;
  readonly auprOut: number;
  /** The classifier's accuracy (argmax of its logits) on the ID test split (+ CSID with fsood): OpenOOD's ACC, equal in every row. */
  readonly acc: number;
  /** Accuracy of the postprocessor's own predictions on the same samples (ReAct, ASH, OpenMax, ... change them). */
  readonly predAcc: number;
}

export interface OodEvaluation {
  readonly postprocessor: string;
  readonly hyperparameters: Record<string, unknown>;
  readonly aps?: ApsResult;
  /** The grid APS searched, as the method adapted it to the fitted model (`searchGrid`); absent without APS. */
  readonly grid?: HyperparameterGrid;
  /** The classifier's accuracy (argmax of its logits) on the ID test split (plus the CSID splits in full-spectrum mode): OpenOOD's ACC. */
  readonly idAccuracy: number;
  /** Full-spectrum mode (OpenOOD's `fsood`): the CSID splits were counted as ID. */
  readonly fsood: boolean;
  /** Full-spectrum mode: each CSID split's own accuracies (OpenOOD's csid.csv); empty otherwise. */
  readonly csid: readonly CsidRow[];
  /** Accuracy of the postprocessor's own predictions on the same samples (the PRED_ACC column). */
  readonly predAccuracy: number;
  /** Near datasets, `nearood`, far datasets, `farood` (groups without datasets are left out). */
  readonly rows: readonly MetricsRow[];
  /** Metrics beyond OpenOOD, in the same row order as `rows`. */
  readonly extended: readonly ExtendedMetricsRow[];
  /** Per-split scores: ID test, CSID, near, far. */
  readonly scores: readonly SplitScores[];
}

/** One covariate-shifted ID split reported on its own (FSOOD): the classifier's and the method's accuracy. */
export interface CsidRow {
  readonly dataset: string;
  readonly count: number;
  readonly acc: number;
  readonly predAcc: number;
}

export interface EvaluateOodOptions {
  readonly postprocessor: Postprocessor;
  readonly source: FeatureSource;
  /** Run the hyperparameter search over this grid (ID val vs OOD val). Omit for the current values. */
  readonly apsGrid?: HyperparameterGrid;
  /** TPR level of the FPR metric (OpenOOD: 0.95). */
  readonly tpr?: number;
  /**
   * OpenOOD's full-spectrum mode (`eval_ood(fsood=True)`): the CSID splits are scored, concatenated to
   * ID test against every OOD set and in ACC, and reported one by one. Off: CSID splits are not scored.
   */
  readonly fsood?: boolean;
  readonly logger?: Logger;
  /** Called after every scoring pass (long evaluations also log an estimate and progress lines). */
  readonly onProgress?: (event: OodProgressEvent) => void;
}

/** The rows of one group plus their unweighted mean row, OpenOOD's layout. */
function groupRows(group: 'near' | 'far', rows: MetricsRow[]): MetricsRow[] {
  if (rows.length === 0) return [];
  const mean = (pick: (r: MetricsRow) => number): number => rows.reduce((s, r) => s + pick(r), 0) / rows.length;
  return [
    ...rows,
    {
      dataset: group === 'near' ? 'nearood' : 'farood',
      group,
      isMean: true,
      fpr95: mean((r) => r.fpr95),
      auroc: mean((r) => r.auroc),
      auprIn: mean((r) => r.auprIn),
      auprOut: mean((r) => r.auprOut),
      acc: mean((r) => r.acc),
      predAcc: mean((r) => r.predAcc),
    },
  ];
}

/** Fraction of `pred` equal to `labels` (ID labels, validated to be classes). */
function accuracy(pred: Int32Array, labels: Int32Array): number {
  if (labels.length === 0) throw new DataError('ACC: an ID split (test or CSID) is empty');
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) correct++;
  return correct / labels.length;
}

function concatInt(parts: readonly Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function concatScores(name: string, parts: readonly SplitScores[]): SplitScores {
  const total = parts.reduce((s, p) => s + p.conf.length, 0);
  const pred = new Int32Array(total);
  const conf = new Float64Array(total);
  const labels = new Int32Array(total);
  let o = 0;
  for (const p of parts) {
    pred.set(p.pred, o);
    conf.set(p.conf, o);
    labels.set(p.labels, o);
    o += p.conf.length;
  }
  return { name, pred, conf, labels };
}

/**
 * OpenOOD's `test_ood` for one postprocessor: setup on the ID splits it requires → optional APS →
 * ID test (+ CSID with fsood) scores → one metrics row per near/far dataset and the group means.
 */
export async function evaluateOod(options: EvaluateOodOptions): Promise<OodEvaluation> {
  const { postprocessor: pp } = options;
  const progress = new ScoringProgress(pp.name, options.logger, options.onProgress);
  const source = progress.track(options.source);
  const splits = source.splits;
  const fsood = options.fsood ?? false;
  const csidNames = fsood ? splits.csid : [];
  if (!fsood && splits.csid.length > 0)
    options.logger?.info(`CSID splits ${splits.csid.join(', ')} not scored: full-spectrum mode (fsood) is off`);
  const testPasses = 1 + csidNames.length + splits.near.length + splits.far.length;
  assertRunnable(pp, source);

  const setupData: { -readonly [R in keyof PostprocessorSetupData]: FeatureSplit } = {};
  const setupLayers = pp.setupLayers?.(source.model) ?? pp.featureLayers;
  for (const role of pp.requires) {
    const split = await source.setupSplit(role, setupLayers);
    if (!split) {
      const what = role === 'ood_val' ? 'the OOD validation split' : `the ID ${role} split`;
      throw new UsageError(`postprocessor '${pp.name}' fits on ${what}, but the split map names no '${role}' split`);
    }
    setupData[role] = split;
  }
  await progress.setup(() => pp.setup(source.model, setupData as PostprocessorSetupData));

  let aps: ApsResult | undefined;
  let searched: HyperparameterGrid | undefined;
  if (options.apsGrid) {
    const grid = pp.searchGrid ? pp.searchGrid(options.apsGrid) : options.apsGrid;
    searched = grid;
    if (Object.keys(grid).length > 0) {
      if (splits.val === undefined || splits.ood_val === undefined) {
        throw new UsageError(`hyperparameter search for '${pp.name}' needs an ID 'val' and an 'ood_val' split in the split map`);
      }
      const idVal = splits.val;
      const oodVal = splits.ood_val;
      progress.plan(2 * gridCombinations(grid).length + testPasses);
      aps = await searchHyperparameters(
        pp,
        grid,
        async (p) => auroc((await source.scoreSplit(idVal, p)).conf, (await source.scoreSplit(oodVal, p)).conf),
        options.logger,
      );
    } else {
      options.logger?.info(`${pp.name}: no hyperparameters to search`);
    }
  }

  if (!aps) progress.plan(testPasses);
  const idParts = [await source.scoreSplit(splits.test, pp)];
  for (const name of csidNames) idParts.push(await source.scoreSplit(name, pp));
  const id = idParts.length === 1 ? idParts[0]! : concatScores(`${splits.test}+csid`, idParts);
  const predAccuracy = accuracy(id.pred, id.labels);
  const classifier: Int32Array[] = [];
  for (const part of idParts) {
    const pred = await source.classifierPredictions(part.name);
    if (pred.length !== part.labels.length) {
      throw new DataError(`split '${part.name}': ${pred.length} classifier predictions for ${part.labels.length} samples`);
    }
    classifier.push(pred);
  }
  const idAccuracy = accuracy(concatInt(classifier), id.labels);
  const csid: CsidRow[] = idParts.slice(1).map((part, i) => ({
    dataset: part.name,
    count: part.labels.length,
    acc: accuracy(classifier[i + 1]!, part.labels),
    predAcc: accuracy(part.pred, part.labels),
  }));
  for (const row of csid)
    options.logger?.info(`${pp.name} csid ${row.dataset}: ACC ${(100 * row.acc).toFixed(2)} PRED_ACC ${(100 * row.predAcc).toFixed(2)}`);

  const scores: SplitScores[] = [...idParts];
  const extended = { near: [] as ExtendedMetricsRow[], far: [] as ExtendedMetricsRow[] };
  const rowsOf = async (group: 'near' | 'far', names: readonly string[]): Promise<MetricsRow[]> => {
    const rows: MetricsRow[] = [];
    for (const name of names) {
      const ood = await source.scoreSplit(name, pp);
      scores.push(ood);
      const m = computeOodMetrics(id.conf, ood.conf, { tpr: options.tpr });
      rows.push({
        dataset: name,
        group,
        isMean: false,
        fpr95: m.fpr95,
        auroc: m.auroc,
        auprIn: m.auprIn,
        auprOut: m.auprOut,
        acc: idAccuracy,
        predAcc: predAccuracy,
      });
      extended[group].push(extendedMetricsRow(group, id, ood));
      options.logger?.info(`${pp.name} ${group} ${name}: AUROC ${(100 * m.auroc).toFixed(2)} FPR@95 ${(100 * m.fpr95).toFixed(2)}`);
    }
    return rows;
  };
  const near = await rowsOf('near', splits.near);
  const far = await rowsOf('far', splits.far);
  if (near.length + far.length === 0) throw new UsageError('no OOD dataset to evaluate: the split map lists no near or far split');

  return {
    postprocessor: pp.name,
    hyperparameters: pp.hyperparameters(),
    aps,
    ...(searched ? { grid: searched } : {}),
    idAccuracy,
    predAccuracy,
    fsood,
    csid,
    rows: [...groupRows('near', near), ...groupRows('far', far)],
    extended: [...extendedGroupRows('near', extended.near), ...extendedGroupRows('far', extended.far)],
    scores,
  };
}
