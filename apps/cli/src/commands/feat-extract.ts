import type { Command } from 'commander';
import { ConfigError } from '@oodkit/core';
import { commandInputs, flagOverride, integerOption, requireInputPath, withConfigOptions, type CommandInputs } from '../shared/options.js';
import { loadRunFromInputs, type CliRun } from '../shared/run-config.js';
import { runPipeline } from '../shared/run-pipeline.js';

export interface FeatExtractFlags {
  readonly checkpoint: string;
  readonly batchSize?: number;
  /** Extra feature layers to write pooled, comma-separated on the command line. */
  readonly layers?: string[];
}

function layerList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Help of the commands that run a checkpoint over a benchmark. */
export const BENCHMARK_HELP =
  '\nThe benchmark is the config key: --benchmark <shipped name (mnist) or YAML file>, or benchmark: in a --config file.';

/** Pipelines that run a checkpoint over a benchmark need one before anything starts. */
export function requireBenchmark(run: CliRun): void {
  if (run.config.value.benchmark === undefined)
    throw new ConfigError([
      { path: 'benchmark', message: 'required: --benchmark <shipped name or YAML file> (or benchmark: in a --config file)' },
    ]);
}

/**
 * `oodkit feat-extract`: the `feat_extract` pipeline — a trained checkpoint + the benchmark → a feature
 * folder (fc_weight.npy, fc_bias.npy, <split>_features.npy, <split>_labels.npy, splits.yml) for
 * `oodkit eval-features`, written by the same writer the benchmark uses.
 */
export async function runFeatExtractCommand(
  flags: FeatExtractFlags,
  inputs: CommandInputs,
): Promise<{ out: string; splits: { name: string }[] }> {
  const args = {
    checkpoint: flags.checkpoint,
    ...(flags.batchSize !== undefined ? { batch_size: flags.batchSize } : {}),
    ...(flags.layers !== undefined ? { layers: flags.layers } : {}),
  };
  const preset = [flagOverride('pipeline', { name: 'feat_extract', args }, '--checkpoint')];
  const run = await loadRunFromInputs(inputs, { preset, requireFiles: false });
  requireBenchmark(run);
  return (
    await runPipeline(run, inputs, { name: 'feat-extract', checkInputs: () => requireInputPath(flags.checkpoint, '--checkpoint', 'file') })
  ).result as { out: string; splits: { name: string }[] };
}

export function registerFeatExtract(program: Command): void {
  withConfigOptions(
    program
      .command('feat-extract')
      .description('write a feature folder (penultimate features of every benchmark split + final layer) from a trained checkpoint')
      .requiredOption('--checkpoint <file>', 'a .ckpt written by oodkit train (e.g. results/train/<run>/checkpoints/best.ckpt)')
      .option('--batch-size <n>', 'images per forward pass (default 1000)', integerOption('--batch-size'))
      .option(
        '--layers <names>',
        'extra feature layers to write, globally average-pooled, comma-separated (e.g. layer3,layer4; see oodkit list network); z is always written',
        layerList,
      )
      .addHelpText('after', `${BENCHMARK_HELP}\nDefault output folder: results/features_<benchmark> (or -o/--out).`),
    { runFolder: true },
  ).action(async (opts: FeatExtractFlags, command: Command) => {
    await runFeatExtractCommand(opts, commandInputs(command));
  });
}
