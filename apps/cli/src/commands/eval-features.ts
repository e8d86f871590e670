import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError, type ConfigOverride } from '@oodkit/core';
import type { EvalFeaturesResult } from '@oodkit/pipelines';
import {
  commandInputs,
  deprecatedOption,
  deprecatedOptionNotice,
  flagOverride,
  integerOption,
  requireInputPath,
  withConfigOptions,
  type CommandInputs,
} from '../shared/options.js';
import { loadRunFromInputs, writeOut, type LoadRunSettings } from '../shared/run-config.js';
import { runPipeline } from '../shared/run-pipeline.js';

export interface EvalFeaturesFlags {
  readonly features: string;
  /** A registered postprocessor, or `all` (every one that needs only features). */
  readonly postprocessor: string;
  readonly aps?: boolean;
  readonly batchSize?: number;
}

/** The flags of `oodkit eval-features` as config: the `eval_features` pipeline and the `postprocessor` key. */
export function evalFeaturesPreset(flags: EvalFeaturesFlags, userOverrides: readonly ConfigOverride[]): ConfigOverride[] {
  const all = flags.postprocessor === 'all';
  if (all && userOverrides.some((o) => o.path === 'postprocessor' || o.path.startsWith('postprocessor.')))
    throw new UsageError('--postprocessor.* (and --args.*) apply to one postprocessor; they cannot be combined with --postprocessor all');
  const args = {
    features: flags.features,
    all,
    aps: flags.aps ?? false,
    ...(flags.batchSize !== undefined ? { batch_size: flags.batchSize } : {}),
  };
  return [
    flagOverride('pipeline', { name: 'eval_features', args }, '--features'),
    ...(all ? [] : [flagOverride('postprocessor', flags.postprocessor, '--postprocessor')]),
  ];
}

/**
 * `oodkit eval-features`: the `eval_features` pipeline (postprocessors on a feature folder); tables are
 * printed as `# <pp> {hyperparameters}` + the `<pp>__metrics.csv` rows.
 */
export async function runEvalFeaturesCommand(
  flags: EvalFeaturesFlags,
  inputs: CommandInputs,
  settings: Pick<LoadRunSettings, 'builtins' | 'notify'> & { print?: (text: string) => void } = {},
): Promise<EvalFeaturesResult> {
  const print = settings.print ?? writeOut;
  const run = await loadRunFromInputs(inputs, { ...settings, preset: evalFeaturesPreset(flags, inputs.overrides), requireFiles: false });
  const result = (
    await runPipeline(run, inputs, {
      name: 'eval-features',
      checkInputs: () => requireInputPath(flags.features, '--features', 'feature folder'),
    })
  ).result as EvalFeaturesResult;
  for (const e of result.evaluations) {
    print(
      `# ${e.postprocessor} ${JSON.stringify(e.hyperparameters)}\n${readFileSync(join(result.out, `${e.postprocessor}__metrics.csv`), 'utf8')}`,
    );
  }
  for (const s of result.skipped) print(`# skipped ${s.postprocessor}: ${s.reason}`);
  return result;
}

export function registerEvalFeatures(program: Command): void {
  withConfigOptions(
    program
      .command('eval-features')
      .description(
        'evaluate postprocessors on a feature folder (fc_weight.npy, fc_bias.npy, <split>_features.npy, <split>_labels.npy, splits.yml)',
      )
      .option('--features <dir>', 'feature folder (written by oodkit feat-extract)')
      .addOption(deprecatedOption('--dir <dir>', '--features <dir>'))
      .requiredOption('--postprocessor <name>', "registered postprocessor, or 'all' for every one that needs only features")
      .option('--aps', 'search hyperparameters on ID val vs OOD val (OpenOOD APS)')
      .option('--batch-size <n>', 'feature rows scored per batch (default 4096)', integerOption('--batch-size'))
      .addHelpText('after', '\nDefault output folder: results/eval-features/<feature folder name> (or -o/--out).'),
    { runFolder: true },
  ).action(
    async (opts: { features?: string; dir?: string; postprocessor: string; aps?: boolean; batchSize?: number }, command: Command) => {
      const inputs = commandInputs(command);
      const features = opts.features ?? opts.dir;
      if (features === undefined) throw new UsageError("eval-features needs --features <dir> (a folder written by 'oodkit feat-extract')");
      const notices = opts.dir !== undefined ? [deprecatedOptionNotice('--dir', '--features')] : [];
      await runEvalFeaturesCommand(
        { features, postprocessor: opts.postprocessor, aps: opts.aps, batchSize: opts.batchSize },
        { ...inputs, notices: [...notices, ...inputs.notices] },
      );
    },
  );
}
