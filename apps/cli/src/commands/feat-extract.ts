import type { Command } from 'commander';
import { UsageError } from '@oodkit/core';
import { commandInputs, flagOverride, integerOption, requireInputPath, withConfigOptions, type CommandInputs } from '../shared/options.js';
import {
  BENCHMARK_HELP,
  modelSourceFlags,
  requireBenchmark,
  withModelSourceOptions,
  type ModelSourceFlags,
} from '../shared/model-source-flags.js';
import { loadRunFromInputs } from '../shared/run-config.js';
import { runPipeline } from '../shared/run-pipeline.js';

export interface FeatExtractFlags extends ModelSourceFlags {
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

/**
 * `oodkit feat-extract`: the `feat_extract` pipeline — a trained checkpoint + the benchmark → a feature
 * folder (fc_weight.npy, fc_bias.npy, <split>_features.npy, <split>_labels.npy, splits.yml) for
 * `oodkit eval-features`, written by the same writer the benchmark uses.
 */
export async function runFeatExtractCommand(
  flags: FeatExtractFlags,
  inputs: CommandInputs,
): Promise<{ out: string; splits: { name: string }[] }> {
  const source = modelSourceFlags(flags);
  const extraLayers = (flags.layers ?? []).filter((l) => l !== 'penultimate');
  if (source.kind !== 'checkpoint' && extraLayers.length > 0)
    throw new UsageError(
      `--layers (${extraLayers.join(', ')}) applies to --checkpoint models only: an ${source.flag} model gives only logits and penultimate features`,
    );
  const args = {
    ...source.args,
    ...(flags.batchSize !== undefined ? { batch_size: flags.batchSize } : {}),
    ...(flags.layers !== undefined ? { layers: flags.layers } : {}),
  };
  const preset = [flagOverride('pipeline', { name: 'feat_extract', args }, source.flag)];
  const run = await loadRunFromInputs(inputs, { preset, requireFiles: false });
  requireBenchmark(run);
  return (await runPipeline(run, inputs, { name: 'feat-extract', checkInputs: () => requireInputPath(source.path, source.flag, 'file') }))
    .result as { out: string; splits: { name: string }[] };
}

export function registerFeatExtract(program: Command): void {
  withConfigOptions(
    withModelSourceOptions(
      program
        .command('feat-extract')
        .description(
          'write a feature folder (penultimate features of every benchmark split + final layer) from a checkpoint, ONNX or tfjs model',
        ),
      'a .ckpt written by oodkit train (e.g. results/train/<run>/checkpoints/best.ckpt)',
    )
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
