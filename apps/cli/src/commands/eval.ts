import type { Command } from 'commander';
import { UsageError, type ConfigOverride } from '@oodkit/core';
import { evalArgs, evalSource, type EvaluationStageResult } from '@oodkit/pipelines';
import { METRIC_COLUMNS, formatFixed2 } from '@oodkit/evaluators';
import { commandInputs, flagOverride, integerOption, requireInputPath, withConfigOptions, type CommandInputs } from '../shared/options.js';
import { loadRunFromInputs, writeOut } from '../shared/run-config.js';
import { runPipeline } from '../shared/run-pipeline.js';
import {
  BENCHMARK_HELP,
  modelSourceFlags,
  requireBenchmark,
  withModelSourceOptions,
  type ModelSourceFlags,
} from '../shared/model-source-flags.js';

export interface EvalFlags extends ModelSourceFlags {
  /** The registered network a PyTorch checkpoint (`--checkpoint`) was saved from. */
  readonly network?: string;
  readonly features?: string;
  /** A registered postprocessor, or `all`. */
  readonly postprocessor: string;
  readonly aps?: boolean;
  readonly batchSize?: number;
}

/** The flags of `oodkit eval` as config: the `eval` pipeline and the `postprocessor` key, and the model flag/path to check. */
export function evalPreset(
  flags: EvalFlags,
  userOverrides: readonly ConfigOverride[],
): { overrides: ConfigOverride[]; source: ReturnType<typeof modelSourceFlags> } {
  const source = modelSourceFlags(flags, { features: flags.features });
  if (flags.network !== undefined && source.kind !== 'checkpoint')
    throw new UsageError(
      `--network names the architecture of a PyTorch --checkpoint; ${source.kind === 'features' ? 'a feature folder' : `an ${source.flag} model`} needs none`,
    );
  const all = flags.postprocessor === 'all';
  if (all && userOverrides.some((o) => o.path === 'postprocessor' || o.path.startsWith('postprocessor.')))
    throw new UsageError('--postprocessor.* applies to one postprocessor; it cannot be combined with --postprocessor all');
  const args = {
    ...source.args,
    ...(flags.network !== undefined ? { network: flags.network } : {}),
    all,
    aps: flags.aps ?? false,
    ...(flags.batchSize !== undefined ? { batch_size: flags.batchSize } : {}),
  };
  return {
    overrides: [
      flagOverride('pipeline', { name: 'eval', args }, source.flag),
      ...(all ? [] : [flagOverride('postprocessor', flags.postprocessor, '--postprocessor')]),
    ],
    source,
  };
}

/**
 * `oodkit eval`: the `eval` pipeline — any model (oodkit checkpoint, PyTorch checkpoint + network, ONNX
 * or tfjs model, feature folder) on a benchmark, one postprocessor or all; prints each method's table.
 */
export async function runEvalCommand(
  flags: EvalFlags,
  inputs: CommandInputs,
  settings: { print?: (text: string) => void } = {},
): Promise<EvaluationStageResult> {
  const print = settings.print ?? writeOut;
  const { overrides, source } = evalPreset(flags, inputs.overrides);
  const run = await loadRunFromInputs(inputs, { preset: overrides, requireFiles: false });
  if (source.kind !== 'features') requireBenchmark(run);
  const result = (
    await runPipeline(run, inputs, {
      name: 'eval',
      checkInputs: () => {
        requireInputPath(source.path, source.flag, source.kind === 'features' ? 'feature folder' : 'file');
        // A PyTorch file without --network is refused before the backend starts.
        if (source.kind === 'checkpoint')
          evalSource({
            ...evalArgs.parse({ checkpoint: source.path }),
            ...(flags.network !== undefined ? { network: flags.network } : {}),
          });
      },
    })
  ).result as EvaluationStageResult;
  for (const e of result.evaluations) {
    print(
      [
        `# ${e.postprocessor} ${JSON.stringify(e.hyperparameters)}`,
        ['dataset', ...METRIC_COLUMNS].join(','),
        ...e.rows.map((r) => [r.dataset, ...METRIC_COLUMNS.map((c) => formatFixed2(r[c]))].join(',')),
      ].join('\n'),
    );
  }
  for (const s of result.skipped) print(`# skipped ${s.postprocessor}: ${s.reason}`);
  return result;
}

export function registerEval(program: Command): void {
  withConfigOptions(
    withModelSourceOptions(
      program
        .command('eval')
        .description(
          'OOD metrics of a model: an oodkit checkpoint, a PyTorch checkpoint / safetensors file with --network, an ONNX or tfjs model, or a feature folder',
        ),
      'oodkit .ckpt, or a PyTorch .pth/.pt (torch.save(state_dict), parsed, never executed) or .safetensors with --network',
    )
      .option(
        '--network <name>',
        'the registered network a PyTorch checkpoint was saved from (lenet, resnet18_32x32, resnet18_64x64, resnet18_224x224, resnet50)',
      )
      .option('--features <dir>', 'a feature folder instead of a model (feature-only methods)')
      .requiredOption('--postprocessor <name>', "registered postprocessor (its args: --postprocessor.args.K=50), or 'all'")
      .option('--aps', 'search hyperparameters on ID val vs OOD val (OpenOOD APS)')
      .option('--batch-size <n>', 'images per batch through the network (default 500)', integerOption('--batch-size'))
      .addHelpText(
        'after',
        `${BENCHMARK_HELP}\nOpenOOD's data root: --data_dir <root> (the folder holding images_classic/ and benchmark_imglist/ for a benchmark file with relative lists).\n` +
          'An --onnx model runs the feature-based methods (those needing input gradients or the network are skipped under --postprocessor all, refused when named);\n' +
          'a --tfjs model is a full network (ODIN runs on it).\n' +
          'The evaluator is the config key evaluator: (default ood).\nDefault output folder: results/eval/<benchmark>_<model name> (or -o/--out).',
      ),
    { runFolder: true },
  ).action(async (opts: EvalFlags, command: Command) => {
    await runEvalCommand(opts, commandInputs(command));
  });
}
