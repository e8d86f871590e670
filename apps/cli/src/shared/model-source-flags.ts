import type { Command } from 'commander';
import { ConfigError, UsageError } from '@oodkit/core';
import { integerOption } from './options.js';
import type { CliRun } from './run-config.js';

/** The model flags of the commands that run a model over a benchmark (`feat-extract`, `eval`). */
export interface ModelSourceFlags {
  readonly checkpoint?: string;
  readonly onnx?: string;
  readonly tfjs?: string;
  readonly logitsOutput?: string;
  readonly featuresOutput?: string;
  readonly threads?: number;
}

/** The model flags shared by the commands that run a model over a benchmark: exactly one source. */
export const MODEL_SOURCE_FLAGS = ['--checkpoint', '--onnx', '--tfjs'] as const;

/** The output-naming flags, which apply to an imported (ONNX / tfjs) model only. */
const OUTPUT_FLAGS = ['logitsOutput', 'featuresOutput', 'threads'] as const;

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * The pipeline args of `--checkpoint | --onnx | --tfjs` (+ output names), and the flag/path to check
 * before anything starts. Exactly one source: a usage error (exit 2) otherwise. `extra` names the
 * command's further sources (eval's `--features`), counted in "exactly one" and returned as `{key: value}`.
 */
export function modelSourceFlags(
  flags: ModelSourceFlags,
  extra: Readonly<Record<string, string | undefined>> = {},
): { args: Record<string, unknown>; flag: string; path: string; kind: string } {
  const models = (['checkpoint', 'onnx', 'tfjs'] as const).filter((k) => flags[k] !== undefined);
  const given = [...models, ...Object.keys(extra).filter((k) => extra[k] !== undefined)];
  if (given.length !== 1)
    throw new UsageError(
      given.length === 0
        ? `a model is required: ${[...MODEL_SOURCE_FLAGS, ...Object.keys(extra).map(flagName)].join(', ')}`
        : `one model only: got ${given.map(flagName).join(' and ')}`,
    );
  const kind = given[0]!;
  const path = models.length === 1 ? flags[models[0]!]! : extra[kind]!;
  if (kind !== 'onnx' && kind !== 'tfjs') {
    const misplaced = OUTPUT_FLAGS.find((k) => flags[k] !== undefined);
    if (misplaced) throw new UsageError(`${flagName(misplaced)} applies to --onnx or --tfjs models, not to ${flagName(kind)}`);
  }
  if (kind === 'tfjs' && flags.threads !== undefined) throw new UsageError('--threads applies to --onnx models only');
  return {
    kind,
    flag: flagName(kind),
    path,
    args: {
      [kind]: path,
      ...(flags.logitsOutput !== undefined ? { logits_output: flags.logitsOutput } : {}),
      ...(flags.featuresOutput !== undefined ? { features_output: flags.featuresOutput } : {}),
      ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
    },
  };
}

/**
 * Adds `--checkpoint` (with the command's own help), `--onnx`, `--tfjs`, `--logits-output`,
 * `--features-output` and `--threads`: one definition for every command that takes a model.
 */
export function withModelSourceOptions(command: Command, checkpointHelp: string): Command {
  return command
    .option('--checkpoint <file>', checkpointHelp)
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
    .option('--threads <n>', "onnx: onnxruntime's intra-op threads (default: onnxruntime's choice)", integerOption('--threads'));
}

/** Help of the commands that run a model over a benchmark. */
export const BENCHMARK_HELP =
  '\nThe benchmark is the config key: --benchmark <shipped name (mnist) or YAML file>, or benchmark: in a --config file.';

/** Pipelines that run a model over a benchmark need one before anything starts. */
export function requireBenchmark(run: CliRun): void {
  if (run.config.value.benchmark === undefined)
    throw new ConfigError([
      { path: 'benchmark', message: 'required: --benchmark <shipped name or YAML file> (or benchmark: in a --config file)' },
    ]);
}
