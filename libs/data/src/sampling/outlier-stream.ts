import type { Batch, ImageDataset, Rng } from '@oodkit/core';
import { DataLoader } from '../loader/data-loader.js';
import type { Preprocessor } from '../preprocessors/types.js';

export interface OutlierStreamOptions {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  readonly preprocess: readonly Preprocessor[];
  /** The stream's root: permutations from `epoch-e/cycle-c`, augmentation from `augment/epoch-e/step-k`. */
  readonly rng: Rng;
}

/**
 * The outlier stream of the OE family: batch k of epoch e takes the next `batchSize` indices of a
 * per-epoch permutation of the outlier set, wrapping around (the reference restarts its outlier
 * loader when exhausted), for exactly as many steps as the ID stream.
 */
export class OutlierStream {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  private readonly rng: Rng;
  private readonly loader: DataLoader;

  constructor(options: OutlierStreamOptions) {
    this.dataset = options.dataset;
    this.batchSize = options.batchSize;
    this.rng = options.rng;
    const augment = options.rng.derive('augment');
    this.loader = new DataLoader(options.dataset, {
      batchSize: options.batchSize,
      preprocess: options.preprocess,
      batchRng: (epoch, step) => augment.derive(`epoch-${epoch}`).derive(`step-${step}`),
    });
  }

  /** The outlier index batch of every step of epoch `epoch`, given the ID batch sizes of that epoch. */
  epochIndices(epoch: number, idSizes: readonly number[]): Int32Array[] {
    const n = this.dataset.length;
    const perms = new Map<number, Int32Array>();
    const perm = (c: number) => {
      let p = perms.get(c);
      if (!p) perms.set(c, (p = this.rng.derive(`epoch-${epoch}`).derive(`cycle-${c}`).permutation(n)));
      return p;
    };
    return idSizes.map((_, step) => {
      const out = new Int32Array(this.batchSize);
      for (let i = 0; i < this.batchSize; i++) {
        const flat = step * this.batchSize + i;
        const c = Math.floor(flat / n);
        out[i] = perm(c)[flat - c * n]!;
      }
      return out;
    });
  }

  /** Tensor batches of `plan` (from {@link epochIndices}) from step `from` on; the caller disposes them. */
  batches(epoch: number, plan: readonly Int32Array[], from = 0): AsyncGenerator<Batch> {
    return this.loader.batches(plan, epoch, from);
  }

  describe(): string {
    return `${this.dataset.name}: ${this.dataset.length} outliers, batch ${this.batchSize}`;
  }
}
