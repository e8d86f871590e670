import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, Rng, UsageError, type BuildContext, type Classifier, type Logger } from '@oodkit/core';
import { loadBenchmark, type LoadedBenchmark } from '@oodkit/data';
import { loadTrainedNetwork } from '../train/restore.js';
import type { GeneratorProgress } from '@oodkit/sio';
import type { BenchEvent } from '../benchmark/run-benchmark.js';
import type { TrainHooks } from '../train/loop.js';
import type { RunFolderFlags } from '../store/run-folder.js';

/** What every registered pipeline offers: `oodkit run` builds `pipeline: {name, args}` and calls `run`. */
export interface RunnablePipeline {
  run(options?: PipelineRunOptions): Promise<unknown>;
}

/**
 * What a command passes to the pipeline it runs (the CLI's options layer: `--resume`, `--overwrite`,
 * progress). Pipelines read what applies to them and ignore the rest.
 *
 * `resume` / `overwrite` follow the run-folder rule (store/run-folder.ts): an existing output folder
 * is refused without one of them. For one-shot outputs (test_acc, feat_extract, test_ood) `resume`
 * writes into the existing folder, replacing files of the same name.
 */
export interface PipelineRunOptions extends RunFolderFlags {
  readonly logger?: Logger;
  readonly onEvent?: (event: BenchEvent) => void;
  /** Training progress (epochs, checkpoints) of pipelines that train. */
  readonly hooks?: TrainHooks;
  /** Progress of a synthetic-data generator being trained (SIO with a generator source). */
  readonly onGenerator?: (progress: GeneratorProgress) => void;
}

/** The options a stage forwards to the train/benchmark runners (same names: `resume`, `overwrite`). */
export function runSafetyOptions(options: PipelineRunOptions): { resume?: boolean; overwrite?: boolean } {
  return {
    ...(options.resume !== undefined ? { resume: options.resume } : {}),
    ...(options.overwrite !== undefined ? { overwrite: options.overwrite } : {}),
  };
}

/** `<output_dir>/<exp_name>`, or `<output_dir>/<fallback>` when the config names no experiment. */
export function runDirOf(config: Readonly<Record<string, unknown>>, fallback: string): string {
  const base = typeof config.output_dir === 'string' ? config.output_dir : 'results';
  return resolve(base, typeof config.exp_name === 'string' ? config.exp_name : fallback);
}

/** Args of the stages that start from a trained checkpoint. */
export const checkpointArgs = {
  checkpoint: z.string().min(1).describe('a .ckpt written by the train pipeline'),
};

/** Runs `use` with the checkpoint's network and the config's benchmark; the network is disposed after. */
export async function withTrainedNetwork<T>(
  ctx: BuildContext,
  checkpoint: string,
  logger: Logger,
  use: (network: Classifier, bench: LoadedBenchmark) => Promise<T>,
): Promise<T> {
  if (ctx.config.benchmark === undefined || ctx.config.benchmark === null)
    throw new ConfigError([
      {
        path: 'benchmark',
        message: 'required: the benchmark whose splits go through the network (a shipped name, a YAML path or a mapping)',
      },
    ]);
  const { network } = await loadTrainedNetwork(checkpoint, ctx.registry, logger);
  try {
    const bench = await loadBenchmark(ctx.config.benchmark, ctx.registry, { logger, rng: Rng.fromSeed(0), config: ctx.config });
    if (bench.config.num_classes !== network.numClasses)
      throw new UsageError(
        `checkpoint network has ${network.numClasses} classes, benchmark '${bench.config.name}' has ${bench.config.num_classes}`,
      );
    return await use(network, bench);
  } finally {
    network.dispose();
  }
}
