import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import {
  ConfigError,
  DataError,
  OodkitError,
  Rng,
  UsageError,
  defineComponent,
  saveResolvedConfig,
  writeFileAtomic,
  type BuildContext,
  type Logger,
  type Postprocessor,
} from '@oodkit/core';
import {
  FeatureFolder,
  FeatureFolderSource,
  METRIC_COLUMNS,
  evaluationToJson,
  formatFixed2,
  toPercentRow,
  type OodEvaluation,
  type OodEvaluationJson,
  type OodEvaluator,
  type HyperparameterGrid,
} from '@oodkit/evaluators';
import { buildPostprocessor, type PostprocessorReference } from '@oodkit/postprocessors';
import { runDirOf, type RunnablePipeline } from './common.js';
import { withRunFolder, type RunFolderFlags } from '../store/run-folder.js';

export const evalFeaturesArgs = z.strictObject({
  features: z
    .string()
    .min(1)
    .describe('a feature folder (fc_weight.npy, fc_bias.npy, <split>_features.npy, <split>_labels.npy, splits.yml)'),
  all: z
    .boolean()
    .default(false)
    .describe("every registered postprocessor that needs only features, instead of the config's postprocessor"),
  aps: z.boolean().default(false).describe('hyperparameter search over each postprocessor grid (ID val vs OOD val)'),
  save_scores: z.boolean().default(true),
  batch_size: z.int().positive().default(4096).describe('feature rows scored per batch'),
});
export type EvalFeaturesArgs = z.infer<typeof evalFeaturesArgs>;

export interface EvalFeaturesResult {
  readonly out: string;
  /** One document per evaluated postprocessor, as in its `<pp>__metrics.json`. */
  readonly evaluations: OodEvaluationJson[];
  /** Postprocessors left out of `all`, with the reason. */
  readonly skipped: { postprocessor: string; reason: string }[];
}

/** Tables of several postprocessors in one CSV, a `postprocessor` column first. */
function summaryCsv(evaluations: readonly OodEvaluation[]): string {
  const lines = [['postprocessor', 'dataset', ...METRIC_COLUMNS].join(',')];
  for (const e of evaluations) {
    for (const row of e.rows) {
      const p = toPercentRow(row);
      lines.push([e.postprocessor, p.dataset, ...METRIC_COLUMNS.map((c) => formatFixed2(p[c]))].join(','));
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * Evaluates the config's postprocessor (or, with `all`, every registered one that needs only
 * features) on a feature folder; writes `<pp>__metrics.csv/.json` and `<pp>__<split>.npy` into the run
 * folder (`<output_dir>/<exp_name>`, default `results/eval-features/<folder name>`), plus
 * `summary.csv/json` for `all`.
 */
export async function evaluateFeatureFolder(
  args: EvalFeaturesArgs,
  ctx: BuildContext,
  logger: Logger,
  flags: RunFolderFlags = {},
): Promise<EvalFeaturesResult> {
  const { registry, config } = ctx;
  const section = config.postprocessor as string | { name?: string; grid?: HyperparameterGrid } | undefined;
  if (!args.all && section === undefined)
    throw new ConfigError([{ path: 'postprocessor', message: 'eval_features needs a postprocessor {name, args} (or args.all: true)' }]);
  const names = args.all ? registry.names('postprocessor') : [typeof section === 'string' ? section : section!.name!];
  if (names.length === 0) throw new UsageError('no postprocessor is registered');
  const grid = !args.all && typeof section === 'object' ? section.grid : undefined;
  if (grid !== undefined && !args.aps)
    throw new ConfigError([{ path: 'postprocessor.grid', message: 'a grid is searched only with APS (set aps: true, or pass --aps)' }]);

  const folder = await FeatureFolder.open(args.features);
  const source = new FeatureFolderSource(folder, args.batch_size);
  const out = runDirOf(config, join('eval-features', basename(resolve(args.features))));
  // The folder rule is applied before any scoring, so a refused folder costs no work.
  return withRunFolder(out, { what: 'eval_features', ...flags, logger }, async () => {
    // The seeds of the command this stage replaces (`oodkit eval-features` before it was a pipeline).
    const root = Rng.fromSeed(typeof config.seed === 'number' ? config.seed : 0);
    const childCtx = (name: string) => ({ logger: logger.child(name), rng: root.derive(`postprocessor.${name}`), config });
    const evaluator = await registry.build<OodEvaluator>(
      'evaluator',
      { name: 'ood', args: { aps: args.aps, save_scores: args.save_scores } },
      childCtx('evaluator'),
    );

    const evaluations: OodEvaluation[] = [];
    const skipped: { postprocessor: string; reason: string }[] = [];
    const failures: string[] = [];
    for (const name of names) {
      const postprocessor: Postprocessor = args.all
        ? await registry.build<Postprocessor>('postprocessor', { name, args: {} }, childCtx(name), 'postprocessor')
        : await buildPostprocessor(
            registry,
            (typeof section === 'string' ? { name: section } : section) as PostprocessorReference,
            childCtx(name),
            'postprocessor',
          );
      try {
        if (postprocessor.needsNetwork) {
          const reason = 'needs the network (inputs or intermediate blocks); a feature folder has only features';
          if (!args.all) throw new UsageError(`postprocessor '${name}' ${reason} — evaluate it from a trained model instead`);
          skipped.push({ postprocessor: name, reason });
          logger.info(`skipping ${name}: ${reason}`);
          continue;
        }
        const missing = postprocessor.requires.filter((role) => folder.splits[role] === undefined);
        if (args.all && missing.length > 0) {
          const reason = `fits on the ID ${missing.join(' and ')} split, which splits.yml does not name`;
          skipped.push({ postprocessor: name, reason });
          logger.info(`skipping ${name}: ${reason}`);
          continue;
        }
        const evaluation = await evaluator.evaluate(postprocessor, source, grid);
        await evaluator.write(out, evaluation);
        evaluations.push(evaluation);
        logger.info(`${name}: tables and scores in ${out}`);
      } catch (error) {
        if (!args.all || !(error instanceof OodkitError)) throw error;
        failures.push(`${name}: ${error.message}`);
        logger.error(`${name} failed: ${error.message}`);
      } finally {
        postprocessor.dispose?.();
      }
    }
    if (args.all) {
      await writeFileAtomic(join(out, 'summary.csv'), summaryCsv(evaluations));
      await writeFileAtomic(
        join(out, 'summary.json'),
        JSON.stringify({ evaluated: evaluations.map((e) => e.postprocessor), skipped, failures }, null, 2) + '\n',
      );
    }
    await saveResolvedConfig(out, config as Record<string, unknown>);
    if (failures.length > 0) throw new DataError(`${failures.length} postprocessor(s) failed:\n  ${failures.join('\n  ')}`);
    return { out, evaluations: evaluations.map(evaluationToJson), skipped };
  });
}

/** `oodkit eval-features` as a pipeline: postprocessors on a feature folder, no network needed. */
export const evalFeaturesPipeline = defineComponent({
  kind: 'pipeline',
  name: 'eval_features',
  description: "OOD metrics of the config's postprocessor (or of every feature-only one) on a feature folder",
  args: evalFeaturesArgs,
  create: (args, ctx): RunnablePipeline => ({
    run: (options = {}) =>
      evaluateFeatureFolder(args, ctx, options.logger ?? ctx.logger, { resume: options.resume, overwrite: options.overwrite }),
  }),
});
