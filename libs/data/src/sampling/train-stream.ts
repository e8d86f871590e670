import type { Batch, ImageDataset, Rng } from '@oodkit/core';
import { DataLoader } from '../loader/data-loader.js';
import type { Preprocessor } from '../preprocessors/types.js';
import { TwoSourceSampler, type IndexBatch } from './two-source-sampler.js';

/**
 * The training data stream the train pipeline consumes. Deterministic in (seed, epoch, step): the
 * pipeline can recompute any epoch's batches after a restart and continue mid-epoch.
 */
export interface TrainStream {
  readonly dataset: ImageDataset;
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
  /** Index batches of epoch `epoch` (0-based). */
  epochIndices(epoch: number): IndexBatch[];
  /**
   * Read, preprocess and label the batches of `plan` (epoch `epoch`'s index batches) from step
   * `from` on, read ahead. The caller disposes each batch's `x` and `y`.
   */
  batches(epoch: number, plan: readonly IndexBatch[], from?: number): AsyncGenerator<Batch>;
  /** One line for logs. */
  describe(): string;
}

export interface SampledStreamOptions {
  readonly dataset: ImageDataset;
  readonly sampler: TwoSourceSampler;
  /** The train chain (uint8 HWC → float32); random steps draw from the step's stream. */
  readonly preprocess: readonly Preprocessor[];
  /** Augmentation stream of the run; step k of epoch e draws from `epoch-e/step-k` under it. */
  readonly rng: Rng;
  readonly description: string;
}

/** Reads the indices a sampler chooses from one dataset (the real set, or real ⊕ synthetic for SIO). */
export class SampledStream implements TrainStream {
  readonly dataset: ImageDataset;
  private readonly sampler: TwoSourceSampler;
  private readonly loader: DataLoader;
  private readonly description: string;

  constructor(options: SampledStreamOptions) {
    this.dataset = options.dataset;
    this.sampler = options.sampler;
    this.description = options.description;
    const rng = options.rng;
    this.loader = new DataLoader(options.dataset, {
      batchSize: options.sampler.batchSize,
      preprocess: options.preprocess,
      batchRng: (epoch, step) => rng.derive(`epoch-${epoch}`).derive(`step-${step}`),
    });
  }

  get stepsPerEpoch(): number {
    return this.sampler.stepsPerEpoch;
  }

  get batchSize(): number {
    return this.sampler.batchSize;
  }

  epochIndices(epoch: number): IndexBatch[] {
    return this.sampler.epoch(epoch);
  }

  batches(epoch: number, plan: readonly IndexBatch[], from = 0): AsyncGenerator<Batch> {
    return this.loader.batches(
      plan.map((b) => b.indices),
      epoch,
      from,
    );
  }

  describe(): string {
    return this.description;
  }
}

/** The ordinary loader: a fresh permutation per epoch, batches of `batchSize`, last one short. */
export function plainStream(options: {
  dataset: ImageDataset;
  batchSize: number;
  preprocess: readonly Preprocessor[];
  rng: Rng;
}): SampledStream {
  // The TwoSourceSampler with no synthetic pool, under the same stream names as the SIO stream, so
  // an SIO run at ratio 1 draws exactly these batches.
  const sampler = new TwoSourceSampler({
    realCount: options.dataset.length,
    synCount: 0,
    batchSize: options.batchSize,
    realRatio: 1,
    rng: options.rng.derive('sampler'),
  });
  return new SampledStream({
    dataset: options.dataset,
    sampler,
    preprocess: options.preprocess,
    rng: options.rng.derive('augment'),
    description: `${options.dataset.name}: ${options.dataset.length} images, batch ${options.batchSize}, ${sampler.stepsPerEpoch} steps/epoch`,
  });
}
