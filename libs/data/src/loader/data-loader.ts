import { tf } from '@oodkit/compute';
import { Rng, UsageError, type Batch, type ImageDataset } from '@oodkit/core';
import { applyChain, chainOutputShape, toUnitFloat, type HostImages, type Preprocessor } from '../preprocessors/types.js';

/** A batch still on the host: preprocessed float32 NHWC pixels, labels and dataset indices. */
export interface HostBatch extends HostImages {
  readonly data: Float32Array;
  readonly labels: Int32Array;
  readonly indices: Int32Array;
}

export interface BatchProgress {
  readonly epoch: number;
  /** 0-based batch number within the epoch. */
  readonly batch: number;
  readonly batches: number;
  readonly size: number;
  /** Samples delivered so far this epoch (from the first batch read, when reading starts mid-epoch). */
  readonly seen: number;
  readonly elapsedMs: number;
}

/** Where batch indices come from: e.g. a TwoSourceSampler (`epoch(e)` → batches of indices). */
export interface IndexSource {
  epoch(epoch: number): readonly (ArrayLike<number> | { readonly indices: ArrayLike<number> })[];
}

export interface DataLoaderOptions {
  readonly batchSize: number;
  readonly shuffle?: boolean;
  readonly dropLast?: boolean;
  /** Needed for shuffling and random preprocessing; each epoch and batch derive their own streams. */
  readonly rng?: Rng;
  readonly preprocess?: readonly Preprocessor[];
  /** Batches read and preprocessed ahead of the consumer (default 3). */
  readonly prefetch?: number;
  /** Overrides batching: the loader reads exactly these index batches (SIO sampler). */
  readonly indexSource?: IndexSource;
  /**
   * The stream random preprocessing of batch `batch` of `epoch` draws from. Default:
   * `rng.derive('epoch-e').derive('batch-k')`. The training streams name theirs `step-k`, evaluation
   * passes one fixed stream for every batch (its chains are deterministic).
   */
  readonly batchRng?: (epoch: number, batch: number) => Rng;
  /** Every sample gets this label instead of the dataset's (−1 for an OOD set). */
  readonly labelOverride?: number;
  readonly onBatch?: (progress: BatchProgress) => void;
}

/**
 * The one batching loop of oodkit: training streams (plain, SIO, outliers), validation, feature
 * extraction and generator training all read through it. Turns an ImageDataset into batches;
 * reading and preprocessing run `prefetch` batches ahead on host arrays (decoders such as sharp
 * work on libuv threads meanwhile); tensors are created only when a batch is handed over, so
 * stopping early leaks nothing. The consumer owns each Batch and disposes it (`disposeBatch`).
 * Randomness per (epoch, batch) is derived, so results do not depend on prefetch depth or timing.
 */
export class DataLoader {
  readonly outputShape: [number, number, number];

  constructor(
    readonly dataset: ImageDataset,
    private readonly options: DataLoaderOptions,
  ) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1)
      throw new UsageError(`DataLoader: batchSize must be a positive integer, got ${options.batchSize}`);
    const chain = options.preprocess ?? [];
    if ((options.shuffle || (chain.some((p) => p.random) && !options.batchRng)) && !options.rng) {
      throw new UsageError('DataLoader: shuffling and random preprocessing need an rng');
    }
    this.outputShape = chainOutputShape(chain, dataset.imageShape);
  }

  /** The index batches of an epoch, in order. */
  indexBatches(epoch = 0): Int32Array[] {
    const { indexSource, batchSize, shuffle, dropLast, rng } = this.options;
    if (indexSource) return indexSource.epoch(epoch).map((b) => Int32Array.from('indices' in b ? b.indices : b));
    const n = this.dataset.length;
    const order = shuffle ? rng!.derive(`epoch-${epoch}`).derive('shuffle').permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    return batchSlices(order, batchSize, dropLast);
  }

  batchesPerEpoch(epoch = 0): number {
    return this.indexBatches(epoch).length;
  }

  private batchRng(epoch: number, batch: number): Rng {
    if (this.options.batchRng) return this.options.batchRng(epoch, batch);
    return this.options.rng?.derive(`epoch-${epoch}`).derive(`batch-${batch}`) ?? Rng.fromSeed(0);
  }

  /** Reads and preprocesses one index batch (no tensors). */
  async hostBatch(indices: Int32Array, epoch: number, batch: number): Promise<HostBatch> {
    const [h, w, c] = this.dataset.imageShape;
    const pixels = await this.dataset.readImages(indices);
    const chain = this.options.preprocess ?? [];
    const images = toUnitFloat(applyChain(chain, { data: pixels, n: indices.length, h, w, c }, this.batchRng(epoch, batch)));
    const labels = new Int32Array(indices.length);
    const override = this.options.labelOverride;
    for (let k = 0; k < indices.length; k++) labels[k] = override ?? this.dataset.labels[indices[k]];
    return { ...images, data: images.data as Float32Array, labels, indices };
  }

  /**
   * Host batches of the given index batches (batch k is `batches[k]`), from batch `from` on, with
   * prefetching. Batch numbers stay absolute, so a run resumed mid-epoch draws the same augmentation.
   */
  async *hostBatches(batches: readonly Int32Array[], epoch: number, from = 0): AsyncGenerator<HostBatch> {
    const ahead = Math.max(1, this.options.prefetch ?? 3);
    const pending: Promise<HostBatch>[] = [];
    let next = from;
    const fill = () => {
      while (pending.length < ahead && next < batches.length) {
        const k = next++;
        const p = this.hostBatch(batches[k], epoch, k);
        p.catch(() => undefined); // surfaced when awaited; avoids an unhandled rejection if the consumer stops first
        pending.push(p);
      }
    };
    const started = performance.now();
    let seen = 0;
    fill();
    for (let k = from; k < batches.length; k++) {
      const host = await pending.shift()!;
      fill();
      seen += host.n;
      this.options.onBatch?.({ epoch, batch: k, batches: batches.length, size: host.n, seen, elapsedMs: performance.now() - started });
      yield host;
    }
  }

  /** Tensor batches of the given index batches from batch `from` on; dispose each (or call `disposeBatch`). */
  async *batches(batches: readonly Int32Array[], epoch: number, from = 0): AsyncGenerator<Batch> {
    for await (const host of this.hostBatches(batches, epoch, from)) yield toBatch(host);
  }

  /** Host batches of an epoch with prefetching; the building block of `epoch`, usable without tensors. */
  hostEpoch(epoch = 0, from = 0): AsyncGenerator<HostBatch> {
    return this.hostBatches(this.indexBatches(epoch), epoch, from);
  }

  /** Tensor batches of an epoch; dispose each (or call `disposeBatch`). */
  epoch(epoch = 0, from = 0): AsyncGenerator<Batch> {
    return this.batches(this.indexBatches(epoch), epoch, from);
  }
}

/** `order` cut into consecutive batches of `batchSize`; the last one is short unless `dropLast`. */
export function batchSlices(order: Int32Array, batchSize: number, dropLast = false): Int32Array[] {
  const out: Int32Array[] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    const end = Math.min(order.length, start + batchSize);
    if (dropLast && end - start < batchSize) break;
    out.push(order.slice(start, end));
  }
  return out;
}

export function toBatch(host: HostBatch): Batch {
  return {
    x: tf.tensor4d(host.data, [host.n, host.h, host.w, host.c], 'float32'),
    y: tf.tensor1d(host.labels, 'int32'),
    indices: host.indices,
  };
}

export function disposeBatch(batch: Batch): void {
  batch.x.dispose();
  batch.y.dispose();
}

/**
 * Batches of `dataset` in index order through a deterministic (test-time) chain: what validation,
 * test accuracy and feature extraction read. Every batch gets the same `rng`.
 */
export function orderedBatches(
  dataset: ImageDataset,
  options: { batchSize: number; preprocess: readonly Preprocessor[]; rng?: Rng; labelOverride?: number; prefetch?: number },
): AsyncGenerator<Batch> {
  const rng = options.rng ?? Rng.fromSeed(0);
  return new DataLoader(dataset, {
    batchSize: options.batchSize,
    preprocess: options.preprocess,
    batchRng: () => rng,
    labelOverride: options.labelOverride,
    prefetch: options.prefetch,
  }).epoch(0);
}
