import { join } from 'node:path';
import { ConfigError, DataError, Rng, UsageError, saveResolvedConfig, writeFileAtomic, type BuildContext, type Logger } from '@oodkit/core';
import { loadBenchmark, type LoadedBenchmark } from '@oodkit/data';
import {
  METRIC_COLUMNS,
  evaluationToJson,
  formatFixed2,
  toPercentRow,
  type HyperparameterGrid,
  type OodEvaluation,
  type OodEvaluationJson,
} from '@oodkit/evaluators';
import { withRunFolder, type RunFolderFlags } from '../store/run-folder.js';
import { runDirOf } from '../stages/common.js';
import { buildEvaluator, evaluateModel, type PostprocessorRequest } from './evaluate-model.js';
import { sourceLabel, sourceNeedsBenchmark, type ModelSource } from './model-source.js';

/** What a stage asks of {@link runEvaluationStage}. */
export interface EvaluationStageRequest {
  readonly source: ModelSource;
  /** Every registered postprocessor (those the source cannot run are skipped), or the config's `postprocessor`. */
  readonly all: boolean;
  readonly aps: boolean;
  readonly saveScores: boolean;
  readonly batchSize?: number;
  readonly featureBatchSize?: number;
  /** The stage's name in messages and the run folder's lock. */
  readonly what: string;
  /** The run folder under `output_dir` without `exp_name`, from the benchmark name, the model's label and the postprocessor. */
  readonly defaultFolder: (parts: { benchmark?: string; model: string; postprocessor?: string }) => string;
}

export interface EvaluationStageResult {
  readonly out: string;
  /** One document per evaluated postprocessor, as in its `<pp>__metrics.json`. */
  readonly evaluations: OodEvaluationJson[];
  /** Postprocessors left out of `all`, with the reason. */
  readonly skipped: { postprocessor: string; reason: string }[];
}

/** Tables of several postprocessors in one CSV, a `postprocessor` column first. */
export function summaryCsv(evaluations: readonly OodEvaluation[]): string {
  const lines = [['postprocessor', 'dataset', ...METRIC_COLUMNS].join(',')];
  for (const e of evaluations) {
    for (const row of e.rows) {
      const p = toPercentRow(row);
      lines.push([e.postprocessor, p.dataset, ...METRIC_COLUMNS.map((c) => formatFixed2(p[c]))].join(','));
    }
  }
  return lines.join('\n') + '\n';
}

/** The config's postprocessor (a name or `{name, args, grid, layers, aggregator}`) as a request; a grid needs APS. */
export function configPostprocessor(config: Readonly<Record<string, unknown>>, aps: boolean, what: string): PostprocessorRequest {
  const section = config.postprocessor as
    | string
    | {
        name?: string;
        args?: Record<string, unknown>;
        grid?: HyperparameterGrid;
        layers?: readonly string[];
        aggregator?: PostprocessorRequest['aggregator'];
      }
    | undefined;
  if (section === undefined || section === null)
    throw new ConfigError([{ path: 'postprocessor', message: `${what} needs a postprocessor {name, args} (or all postprocessors)` }]);
  if (typeof section === 'string') return { name: section };
  if (section.grid !== undefined && !aps)
    throw new ConfigError([{ path: 'postprocessor.grid', message: 'a grid is searched only with APS (set aps: true, or pass --aps)' }]);
  return {
    name: section.name!,
    args: section.args ?? {},
    ...(section.grid !== undefined ? { grid: section.grid } : {}),
    ...(section.layers !== undefined ? { layers: section.layers } : {}),
    ...(section.aggregator !== undefined ? { aggregator: section.aggregator } : {}),
  };
}

/**
 * A stage around {@link evaluateModel}: the postprocessors from config, the evaluator from `evaluator:`,
 * the benchmark (for sources with a network), one run folder (`<output_dir>/<exp_name>` or the stage's
 * default) with per-method tables, scores and predictions, `summary.csv/json` for `all`, and the
 * resolved config. What `eval`, `eval_features` and `test_ood` run.
 */
export async function runEvaluationStage(
  request: EvaluationStageRequest,
  ctx: BuildContext,
  logger: Logger,
  flags: RunFolderFlags = {},
): Promise<EvaluationStageResult> {
  const { registry, config } = ctx;
  const postprocessors: PostprocessorRequest[] = request.all
    ? registry.names('postprocessor').map((name) => ({ name }))
    : [configPostprocessor(config, request.aps, request.what)];
  if (postprocessors.length === 0) throw new UsageError('no postprocessor is registered');

  let benchmark: LoadedBenchmark | undefined;
  if (sourceNeedsBenchmark(request.source)) {
    if (config.benchmark === undefined || config.benchmark === null)
      throw new ConfigError([
        {
          path: 'benchmark',
          message: 'required: the benchmark whose splits go through the network (a shipped name, a YAML path or a mapping)',
        },
      ]);
    benchmark = await loadBenchmark(config.benchmark, registry, { logger, rng: Rng.fromSeed(0), config });
  }
  const out = runDirOf(
    config,
    request.defaultFolder({
      benchmark: benchmark?.config.name,
      model: sourceLabel(request.source),
      postprocessor: request.all ? undefined : postprocessors[0]!.name,
    }),
  );
  // The folder rule is applied before any scoring, so a refused folder costs no work.
  return withRunFolder(out, { what: request.what, ...flags, logger }, async () => {
    const evaluator = await buildEvaluator(registry, config, { logger: logger.child('evaluator'), rng: Rng.fromSeed(0), config });
    const result = await evaluateModel({
      source: request.source,
      benchmark,
      postprocessors,
      all: request.all,
      evaluator,
      aps: request.aps,
      registry,
      config,
      logger,
      out,
      saveScores: request.saveScores,
      batchSize: request.batchSize,
      featureBatchSize: request.featureBatchSize,
    });
    if (request.all) {
      await writeFileAtomic(join(out, 'summary.csv'), summaryCsv(result.evaluations));
      await writeFileAtomic(
        join(out, 'summary.json'),
        JSON.stringify(
          {
            evaluated: result.evaluations.map((e) => e.postprocessor),
            skipped: result.skipped,
            failures: result.failures.map((f) => `${f.postprocessor}: ${f.message}`),
          },
          null,
          2,
        ) + '\n',
      );
    }
    await saveResolvedConfig(out, config as Record<string, unknown>);
    if (result.failures.length > 0)
      throw new DataError(
        `${result.failures.length} postprocessor(s) failed:\n  ${result.failures.map((f) => `${f.postprocessor}: ${f.message}`).join('\n  ')}`,
      );
    return { out, evaluations: result.evaluations.map(evaluationToJson), skipped: result.skipped };
  });
}
