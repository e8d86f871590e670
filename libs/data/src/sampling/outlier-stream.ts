import { UsageError, type Batch, type ImageDataset, type Rng } from '@oodkit/core';
import { DataLoader } from '../loader/data-loader.js';
import type { Preprocessor } from '../preprocessors/types.js';

/**
 * How a pass over the outliers ends. `short-last` (OpenOOD's OETrainer): the last batch of a pass
 * is short, the next step restarts the pass. `at-least-id` (OpenOOD's MixOETrainer): a batch with
 * fewer outliers than the step's ID batch is not used; the pass restarts and its first batch is.
 */
export type OutlierBatchRule = 'short-last' | 'at-least-id';

export interface OutlierStreamOptions {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  /** The ID **test** chain: OpenOOD preprocesses its `oe` split like every split but `train`. */
  readonly preprocess: readonly Preprocessor[];
  /** The stream's root: pass c of epoch e permutes by `epoch-e/cycle-c`, augmentation from `augment/epoch-e/step-k`. */
  readonly rng: Rng;
  readonly rule?: OutlierBatchRule;
}

/**
 * The outlier stream of the OE family, iterated as OpenOOD's OE trainers iterate their outlier
 * loader (shuffle on, no drop_last): a fresh iterator at the start of every epoch, consecutive
 * batches of one permutation, a short last batch, then a restart with a new permutation. Batches are
 * planned per epoch from the ID batch sizes, so any step can be recomputed after a resume.
 */
export class OutlierStream {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  readonly rule: OutlierBatchRule;
  private readonly rng: Rng;
  private readonly loader: DataLoader;

  constructor(options: OutlierStreamOptions) {
    this.dataset = options.dataset;
    this.batchSize = options.batchSize;
    this.rule = options.rule ?? 'short-last';
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
    let cycle = -1;
    let perm: Int32Array = new Int32Array(0);
    let pos = n;
    const restart = () => {
      cycle++;
      perm = this.rng.derive(`epoch-${epoch}`).derive(`cycle-${cycle}`).permutation(n);
      pos = 0;
    };
    return idSizes.map((idSize, step) => {
      if (pos >= n) restart();
      if (this.rule === 'at-least-id' && Math.min(n, pos + this.batchSize) - pos < idSize) {
        restart();
        if (Math.min(n, this.batchSize) < idSize) {
          throw new UsageError(
            `outlier set '${this.dataset.name}' has ${n} outliers in batches of ${this.batchSize}, fewer than the ID batch of ` +
              `${idSize} (step ${step + 1} of epoch ${epoch + 1}) that the trainer mixes them with`,
          );
        }
      }
      const end = Math.min(n, pos + this.batchSize);
      const batch = perm.slice(pos, end);
      pos = end;
      return batch;
    });
  }

  /** Tensor batches of `plan` (from {@link epochIndices}) from step `from` on; the caller disposes them. */
  batches(epoch: number, plan: readonly Int32Array[], from = 0): AsyncGenerator<Batch> {
    return this.loader.batches(plan, epoch, from);
  }

  describe(): string {
    return `${this.dataset.name}: ${this.dataset.length} outliers, batch ${this.batchSize} (${this.rule})`;
  }
}
