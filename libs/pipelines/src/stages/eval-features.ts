import { z } from 'zod';
import { defineComponent, type BuildContext, type Logger } from '@oodkit/core';
import { runEvaluationStage, type EvaluationStageResult } from '../evaluation/run-evaluation.js';
import type { RunFolderFlags } from '../store/run-folder.js';
import type { RunnablePipeline } from './common.js';

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

export type EvalFeaturesResult = EvaluationStageResult;

/**
 * Evaluates the config's postprocessor (or, with `all`, every registered one that needs only
 * features) on a feature folder, through the one evaluation path (`evaluateModel`); writes
 * `<pp>__metrics.csv/.json` and `<pp>__<split>.npy` into the run folder (`<output_dir>/<exp_name>`,
 * default `results/eval-features/<folder name>`), plus `summary.csv/json` for `all`.
 */
export function evaluateFeatureFolder(
  args: EvalFeaturesArgs,
  ctx: BuildContext,
  logger: Logger,
  flags: RunFolderFlags = {},
): Promise<EvalFeaturesResult> {
  return runEvaluationStage(
    {
      source: { kind: 'features', folder: args.features },
      all: args.all,
      aps: args.aps,
      saveScores: args.save_scores,
      featureBatchSize: args.batch_size,
      what: 'eval_features',
      defaultFolder: ({ model }) => `eval-features/${model}`,
    },
    ctx,
    logger,
    flags,
  );
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
