import { Rng, UsageError } from '@oodkit/core';

/** How the epoch length is set: by the real set and the full batch (reference) or by covering every real image. */
export type TwoSourceMode = 'faithful' | 'full-real-coverage';

export interface TwoSourceSamplerOptions {
  /** R: real samples are indices 0..R-1 of the combined dataset. */
  readonly realCount: number;
  /** S: synthetic samples are indices R..R+S-1. */
  readonly synCount: number;
  readonly batchSize: number;
  /** Fraction of each batch that is real; realBs = trunc(bs * realRatio). 0: all-synthetic batches. */
  readonly realRatio: number;
  /** Run stream; each epoch derives its own sub-streams from it, so epochs are reproducible in any order. */
  readonly rng: Rng;
  readonly mode?: TwoSourceMode;
  /**
   * Keep only this percentage (0, 100] of the synthetic pool, drawn with a fixed seed 0 (as the
   * reference does) so the kept subset is the same whatever the run seed.
   */
  readonly extraPercent?: number;
}

/** One batch of combined-dataset indices plus how many of them are real (for accounting and tests). */
export interface IndexBatch {
  readonly indices: Int32Array;
  readonly realCount: number;
  readonly synCount: number;
}

/**
 * The SIO data stream (see docs/sio.md): per batch, the next realBs indices of a fresh per-epoch
 * permutation of the real set and the next synBs of an independent permutation of the synthetic
 * pool, clamped at the ends (no wrap-around, no drop-last), shuffled together.
 */
export class TwoSourceSampler {
  readonly realCount: number;
  readonly batchSize: number;
  readonly realBs: number;
  readonly synBs: number;
  readonly mode: TwoSourceMode;
  /** Combined-dataset indices (>= realCount) of the synthetic samples in use, ascending. */
  readonly synPool: Int32Array;
  private readonly rng: Rng;

  constructor(options: TwoSourceSamplerOptions) {
    const { realCount, synCount, batchSize, realRatio } = options;
    if (!Number.isInteger(realCount) || realCount < 1)
      throw new UsageError(`TwoSourceSampler: realCount must be a positive integer, got ${realCount}`);
    if (!Number.isInteger(synCount) || synCount < 0)
      throw new UsageError(`TwoSourceSampler: synCount must be a non-negative integer, got ${synCount}`);
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new UsageError(`TwoSourceSampler: batchSize must be a positive integer, got ${batchSize}`);
    if (!(realRatio >= 0 && realRatio <= 1)) throw new UsageError(`TwoSourceSampler: realRatio must be in [0, 1], got ${realRatio}`);
    this.realCount = realCount;
    this.batchSize = batchSize;
    this.realBs = Math.trunc(batchSize * realRatio);
    // Ratio 0 (all-synthetic batches) is SIO's own edge case; a positive ratio that rounds to no real
    // sample is a batch size too small for it.
    if (this.realBs < 1 && realRatio > 0)
      throw new UsageError(`TwoSourceSampler: batchSize ${batchSize} × realRatio ${realRatio} leaves no real sample per batch`);
    this.synBs = batchSize - this.realBs;
    this.mode = options.mode ?? 'faithful';
    this.rng = options.rng;
    this.synPool = syntheticPool(realCount, synCount, options.extraPercent);
    if (this.realBs === 0) {
      if (this.mode === 'full-real-coverage')
        throw new UsageError(
          'TwoSourceSampler: realRatio 0 draws no real sample, but full-real-coverage needs real samples in every batch',
        );
      const filled = Math.ceil(this.synPool.length / this.synBs);
      if (filled < this.stepsPerEpoch) {
        throw new UsageError(
          `TwoSourceSampler: with realRatio 0 every batch is synthetic, but ${this.synPool.length} synthetic samples fill only ` +
            `${filled} of the ${this.stepsPerEpoch} batches per epoch (ceil(${realCount} real / batch ${batchSize})); ` +
            `need at least ${(this.stepsPerEpoch - 1) * this.synBs + 1}`,
        );
      }
    }
  }

  get synCount(): number {
    return this.synPool.length;
  }

  /** Faithful: ceil(R / bs), the baseline's step count (same LR schedule). Coverage: ceil(R / realBs). */
  get stepsPerEpoch(): number {
    return Math.ceil(this.realCount / (this.mode === 'faithful' ? this.batchSize : this.realBs));
  }

  /** The index batches of epoch `epoch` (0-based); the same epoch always yields the same batches. */
  epoch(epoch: number): IndexBatch[] {
    const stream = this.rng.derive(`epoch-${epoch}`);
    const realPerm = stream.derive('real').permutation(this.realCount);
    const synOrder = stream.derive('synthetic').permutation(this.synPool.length);
    const within = stream.derive('within-batch');
    const out: IndexBatch[] = [];
    for (let k = 0; k < this.stepsPerEpoch; k++) {
      const real = realPerm.subarray(Math.min(k * this.realBs, this.realCount), Math.min((k + 1) * this.realBs, this.realCount));
      const synFrom = Math.min(k * this.synBs, synOrder.length);
      const synTo = Math.min((k + 1) * this.synBs, synOrder.length);
      const indices = new Int32Array(real.length + (synTo - synFrom));
      indices.set(real, 0);
      for (let j = synFrom; j < synTo; j++) indices[real.length + j - synFrom] = this.synPool[synOrder[j]];
      within.shuffle(indices);
      out.push({ indices, realCount: real.length, synCount: synTo - synFrom });
    }
    return out;
  }
}

/** The synthetic indices kept: all of them, or an extraPercent subset drawn with the fixed seed 0. */
export function syntheticPool(realCount: number, synCount: number, extraPercent?: number): Int32Array {
  if (extraPercent === undefined || extraPercent === 100) {
    const all = new Int32Array(synCount);
    for (let i = 0; i < synCount; i++) all[i] = realCount + i;
    return all;
  }
  if (!(extraPercent > 0 && extraPercent <= 100))
    throw new UsageError(`TwoSourceSampler: extraPercent must be in (0, 100], got ${extraPercent}`);
  const keep = Math.floor((synCount * extraPercent) / 100);
  const chosen = Rng.fromSeed(0).permutation(synCount).subarray(0, keep);
  const sorted = Int32Array.from(chosen).sort();
  for (let i = 0; i < sorted.length; i++) sorted[i] += realCount;
  return sorted;
}
