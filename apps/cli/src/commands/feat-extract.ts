import type { Command } from 'commander';
import { ConfigError, UsageError } from '@oodkit/core';
import { commandInputs, flagOverride, integerOption, requireInputPath, withConfigOptions, type CommandInputs } from '../shared/options.js';
import { loadRunFromInputs, type CliRun } from '../shared/run-config.js';
import { runPipeline } from '../shared/run-pipeline.js';

export interface FeatExtractFlags {
  readonly checkpoint?: string;
  readonly onnx?: string;
  readonly tfjs?: string;
  readonly logitsOutput?: string;
  readonly featuresOutput?: string;
  readonly threads?: number;
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

/** The model flags shared by the commands that run a model over a benchmark: exactly one source. */
export const MODEL_SOURCE_FLAGS = ['--checkpoint', '--onnx', '--tfjs'] as const;

/**
 * The pipeline args of `--checkpoint | --onnx | --tfjs` (+ output names), and the flag/path to check
 * before anything starts. Exactly one source: a usage error (exit 2) otherwise.
 */
export function modelSourceFlags(flags: FeatExtractFlags): { args: Record<string, unknown>; flag: string; path: string } {
  const given = (['checkpoint', 'onnx', 'tfjs'] as const).filter((k) => flags[k] !== undefined);
  if (given.length !== 1)
    throw new UsageError(
      given.length === 0
        ? `a model is required: ${MODEL_SOURCE_FLAGS.join(', ')}`
        : `one model only: got ${given.map((k) => `--${k}`).join(' and ')}`,
    );
  const kind = given[0]!;
  if (kind === 'checkpoint') {
    const extra = (['logitsOutput', 'featuresOutput', 'threads'] as const).find((k) => flags[k] !== undefined);
    if (extra)
      throw new UsageError(
        `--${extra.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to --onnx or --tfjs models, not to --checkpoint`,
      );
  }
  if (kind === 'tfjs' && flags.threads !== undefined) throw new UsageError('--threads applies to --onnx models only');
  const extra = (flags.layers ?? []).filter((l) => l !== 'penultimate');
  if (kind !== 'checkpoint' && extra.length > 0)
    throw new UsageError(
      `--layers (${extra.join(', ')}) applies to --checkpoint models only: an --${kind} model gives only logits and penultimate features`,
    );
  return {
    flag: `--${kind}`,
    path: flags[kind]!,
    args: {
      [kind]: flags[kind],
      ...(flags.logitsOutput !== undefined ? { logits_output: flags.logitsOutput } : {}),
      ...(flags.featuresOutput !== undefined ? { features_output: flags.featuresOutput } : {}),
      ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
    },
  };
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
  const source = modelSourceFlags(flags);
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
    program
      .command('feat-extract')
      .description(
        'write a feature folder (penultimate features of every benchmark split + final layer) from a checkpoint, ONNX or tfjs model',
      )
      .option('--checkpoint <file>', 'a .ckpt written by oodkit train (e.g. results/train/<run>/checkpoints/best.ckpt)')
      .option('--onnx <file>', 'an ONNX model (e.g. from torch.onnx.export, NCHW input), run by onnxruntime-node on the CPU')
      .option('--tfjs <model.json>', 'a tfjs LayersModel or GraphModel (NHWC input)')
      .option(
        '--logits-output <name>',
        'onnx: graph value of the logits; tfjs: the final Dense layer / MatMul node (default: the last linear layer)',
      )
      .option(
        '--features-output <name>',
        'onnx: graph value fed to the final layer; tfjs: layer / node of the penultimate feature (default: the final layer input)',
      )
      .option('--threads <n>', "onnx: onnxruntime's intra-op threads (default: onnxruntime's choice)", integerOption('--threads'))
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
