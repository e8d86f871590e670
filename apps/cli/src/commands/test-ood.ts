import type { Command } from 'commander';
import { UsageError } from '@oodkit/core';
import { METRIC_COLUMNS, formatFixed2, type OodEvaluationJson } from '@oodkit/evaluators';
import { commandInputs, flagOverride, integerOption, requireInputPath, withConfigOptions, type CommandInputs } from '../shared/options.js';
import { loadRunFromInputs, writeOut } from '../shared/run-config.js';
import { runPipeline } from '../shared/run-pipeline.js';
import { BENCHMARK_HELP, requireBenchmark } from '../shared/model-source-flags.js';

export interface TestOodFlags {
  readonly checkpoint?: string;
  readonly features?: string;
  readonly postprocessor?: string;
  readonly aps?: boolean;
  readonly batchSize?: number;
}

/**
 * `oodkit test-ood`: OpenOOD's test_ood stage, the `test_ood` pipeline — one postprocessor on a trained
 * checkpoint (through the network, so every method works) or on a feature folder; prints the table.
 */
export async function runTestOodCommand(flags: TestOodFlags, inputs: CommandInputs): Promise<OodEvaluationJson> {
  if ((flags.checkpoint === undefined) === (flags.features === undefined))
    throw new UsageError('test-ood needs exactly one of --checkpoint <file> or --features <dir>');
  const args = {
    ...(flags.checkpoint !== undefined ? { checkpoint: flags.checkpoint } : { features: flags.features }),
    aps: flags.aps ?? false,
    ...(flags.batchSize !== undefined ? { batch_size: flags.batchSize } : {}),
  };
  const preset = [
    flagOverride('pipeline', { name: 'test_ood', args }, flags.checkpoint !== undefined ? '--checkpoint' : '--features'),
    ...(flags.postprocessor !== undefined ? [flagOverride('postprocessor', flags.postprocessor, '--postprocessor')] : []),
  ];
  const run = await loadRunFromInputs(inputs, { preset, requireFiles: false });
  if (flags.checkpoint !== undefined) requireBenchmark(run);
  if (run.config.value.postprocessor === undefined)
    throw new UsageError('test-ood needs --postprocessor <name> (or postprocessor: in a --config file)');
  const result = (
    await runPipeline(run, inputs, {
      name: 'test-ood',
      checkInputs: () =>
        flags.checkpoint !== undefined
          ? requireInputPath(flags.checkpoint, '--checkpoint', 'file')
          : requireInputPath(flags.features!, '--features', 'feature folder'),
    })
  ).result as OodEvaluationJson;
  writeOut(`# ${result.postprocessor} ${JSON.stringify(result.hyperparameters)}`);
  writeOut(
    [
      ['dataset', ...METRIC_COLUMNS].join(','),
      ...result.rows.map((r) => [r.dataset, ...METRIC_COLUMNS.map((c) => formatFixed2(r[c]))].join(',')),
    ].join('\n'),
  );
  return result;
}

export function registerTestOod(program: Command): void {
  withConfigOptions(
    program
      .command('test-ood')
      .description("OOD metrics of one postprocessor on a trained checkpoint (or a feature folder), OpenOOD's test_ood")
      .option('--checkpoint <file>', 'a .ckpt written by oodkit train; features are extracted on the fly')
      .option('--features <dir>', 'a feature folder instead of a checkpoint (feature-only methods)')
      .option('--postprocessor <name>', "the config key 'postprocessor' (its args: --postprocessor.args.K=50)")
      .option('--aps', 'search hyperparameters on ID val vs OOD val (OpenOOD APS)')
      .option('--batch-size <n>', 'images (or feature rows) per batch (default 500)', integerOption('--batch-size'))
      .addHelpText('after', `${BENCHMARK_HELP}\nDefault output folder: results/test_ood_<benchmark>_<postprocessor> (or -o/--out).`),
    { runFolder: true },
  ).action(async (opts: TestOodFlags, command: Command) => {
    await runTestOodCommand(opts, commandInputs(command));
  });
}
