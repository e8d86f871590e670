import { resolve } from 'node:path';
import { z } from 'zod';
import { Rng, type BuildContext, type Classifier, type Logger } from '@oodkit/core';
import { loadBenchmark, type LoadedBenchmark } from '@oodkit/data';
import { loadTrainedNetwork } from '../train/restore.js';
import type { BenchEvent } from '../benchmark/run-benchmark.js';
import type { RunFolderFlags } from '../store/run-folder.js';

/** What every registered pipeline offers: `oodkit run` builds `pipeline: {name, args}` and calls `run`. */
export interface RunnablePipeline {
  run(options?: PipelineRunOptions): Promise<unknown>;
}

/**
 * `resume` / `overwrite` follow the run-folder rule (store/run-folder.ts): an existing output folder
 * is refused without one of them. For one-shot outputs (test_acc, feat_extract, test_ood) `resume`
 * writes into the existing folder, replacing files of the same name.
 */
export interface PipelineRunOptions extends RunFolderFlags {
  readonly logger?: Logger;
  readonly onEvent?: (event: BenchEvent) => void;
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
  const { network } = await loadTrainedNetwork(checkpoint, ctx.registry, logger);
  try {
    const bench = await loadBenchmark(ctx.config.benchmark, ctx.registry, { logger, rng: Rng.fromSeed(0), config: ctx.config });
    return await use(network, bench);
  } finally {
    network.dispose();
  }
}
