import type { Batch, ImageDataset, Rng } from '@oodkit/core';
import { tf } from '@oodkit/compute';
import { TwoSourceSampler, type IndexBatch } from '@oodkit/data';

/**
 * Turns uint8 HWC pixels of `count` images into the float32 NHWC batch a network consumes. `rng` is
 * the augmentation stream of exactly this (epoch, step), so a resumed run draws the same crops.
 */
export type BatchPreprocess = (pixels: Uint8Array, count: number, imageShape: readonly [number, number, number], rng: Rng) => tf.Tensor4D;

/** Position of a batch in the run, for per-step random streams and error messages. */
export interface StepAt {
  readonly epoch: number;
  readonly step: number;
}

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
  /** Read, preprocess and label one index batch. The caller disposes `x` and `y`. */
  load(batch: IndexBatch, at: StepAt): Promise<Batch>;
  /** One line for logs. */
  describe(): string;
}

export interface SampledStreamOptions {
  readonly dataset: ImageDataset;
  readonly sampler: TwoSourceSampler;
  readonly preprocess: BatchPreprocess;
  /** Augmentation stream of the run; per-step streams are derived from it by name. */
  readonly rng: Rng;
  readonly description: string;
}

/** Reads the indices a sampler chooses from one dataset (the real set, or real ⊕ synthetic for SIO). */
export class SampledStream implements TrainStream {
  readonly dataset: ImageDataset;
  private readonly sampler: TwoSourceSampler;
  private readonly preprocess: BatchPreprocess;
  private readonly rng: Rng;
  private readonly description: string;

  constructor(options: SampledStreamOptions) {
    this.dataset = options.dataset;
    this.sampler = options.sampler;
    this.preprocess = options.preprocess;
    this.rng = options.rng;
    this.description = options.description;
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

  async load(batch: IndexBatch, at: StepAt): Promise<Batch> {
    return loadBatch(this.dataset, batch.indices, this.preprocess, this.rng.derive(`epoch-${at.epoch}`).derive(`step-${at.step}`));
  }

  describe(): string {
    return this.description;
  }
}

/** Read `indices` of `dataset`, preprocess, attach labels. */
export async function loadBatch(dataset: ImageDataset, indices: Int32Array, preprocess: BatchPreprocess, rng: Rng): Promise<Batch> {
  const pixels = await dataset.readImages(indices);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) labels[i] = dataset.labels[indices[i]!]!;
  const x = preprocess(pixels, indices.length, dataset.imageShape, rng);
  const y = tf.tensor1d(labels, 'int32');
  return { x, y, indices: Int32Array.from(indices) };
}

/** The ordinary loader: a fresh permutation per epoch, batches of `batchSize`, last one short. */
export function plainStream(options: { dataset: ImageDataset; batchSize: number; preprocess: BatchPreprocess; rng: Rng }): SampledStream {
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

/**
 * The outlier stream of the OE family: batch k of epoch e takes the next `batchSize` indices of a
 * per-epoch permutation of the outlier set, wrapping around (the reference restarts its outlier
 * loader when exhausted), for exactly as many steps as the ID stream.
 */
export class OutlierStream {
  constructor(
    readonly dataset: ImageDataset,
    readonly batchSize: number,
    private readonly preprocess: BatchPreprocess,
    private readonly rng: Rng,
  ) {}

  indices(epoch: number, step: number): Int32Array {
    const n = this.dataset.length;
    const out = new Int32Array(this.batchSize);
    const start = step * this.batchSize;
    let cycle = -1;
    let perm: Int32Array | undefined;
    for (let i = 0; i < this.batchSize; i++) {
      const flat = start + i;
      const c = Math.floor(flat / n);
      if (c !== cycle) {
        cycle = c;
        perm = this.rng.derive(`epoch-${epoch}`).derive(`cycle-${c}`).permutation(n);
      }
      out[i] = perm![flat - c * n]!;
    }
    return out;
  }

  async load(at: StepAt): Promise<Batch> {
    const indices = this.indices(at.epoch, at.step);
    return loadBatch(
      this.dataset,
      indices,
      this.preprocess,
      this.rng.derive('augment').derive(`epoch-${at.epoch}`).derive(`step-${at.step}`),
    );
  }
}
