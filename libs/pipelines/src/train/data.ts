import type { BuildContext, ImageDataset } from '@oodkit/core';
import { loadBenchmarkId, type BenchmarkConfig, type Preprocessor } from '@oodkit/data';

export interface TrainData {
  readonly benchmark: BenchmarkConfig;
  readonly train: ImageDataset;
  readonly val: ImageDataset;
  readonly test: ImageDataset;
  readonly trainChain: readonly Preprocessor[];
  readonly testChain: readonly Preprocessor[];
}

/**
 * The ID splits and the train/test chains of the config's `benchmark`, through the data lib's
 * benchmark loader: the same validation, data_dir and chains as feature extraction and `bench` see.
 */
export async function buildTrainData(config: Readonly<Record<string, unknown>>, ctx: Omit<BuildContext, 'config'>): Promise<TrainData> {
  const loaded = await loadBenchmarkId(config.benchmark, ctx.registry, { logger: ctx.logger, rng: ctx.rng, config });
  return {
    benchmark: loaded.config,
    train: loaded.id.train,
    val: loaded.id.val,
    test: loaded.id.test,
    trainChain: loaded.preprocess.train,
    testChain: loaded.preprocess.test,
  };
}
