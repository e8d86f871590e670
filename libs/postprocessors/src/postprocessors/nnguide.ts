import { RowStatistics, tf } from '@oodkit/compute';
import type { PostprocessorSetupData, ScoreBatch, ScoreResult, ScoringModel, BuildContext, Rng } from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { l2Normalize } from '../math/neighbors.js';
import { logSumExp } from '../math/softmax.js';

export const nnguideArgs = z.strictObject({
  K: z.number().int().positive().default(100).describe('number of nearest guide samples averaged (capped at the bank size)'),
  alpha: z.number().gt(0).max(1).default(0.01).describe('fraction of the train set that fills the guide bank'),
  bank: z
    .enum(['ordered', 'random'])
    .default('ordered')
    .describe(
      "which train samples fill the bank: 'ordered' = the first whole batches in dataset order (OpenOOD's Evaluator, shuffle off); " +
        "'random' = whole batches of a seeded shuffle (OpenOOD's config pipeline, whose train loader shuffles)",
    ),
  bank_batch_size: z
    .number()
    .int()
    .positive()
    .default(200)
    .describe("train batch size of the bank rule (OpenOOD's Evaluator: 200; its config pipeline: dataset.train.batch_size, 128 on CIFAR)"),
});

/**
 * Bank size for a train split of `n` samples, fraction α and batch size B, OpenOOD's loop: whole
 * train batches are added until their count times B exceeds ⌊n·α⌋ — ⌊⌊n·α⌋ / B⌋ + 1 batches — or
 * the split runs out. With B = 1 that is ⌊n·α⌋ + 1 samples.
 */
export function nnguideBankSize(n: number, alpha: number, batchSize: number): number {
  const batches = Math.floor(Math.floor(n * alpha) / batchSize) + 1;
  return Math.min(n, batches * batchSize);
}

/** Train rows of the guide bank: the first `m` in dataset order, or the first `m` of a seeded permutation. */
export function nnguideBankRows(n: number, m: number, bank: 'ordered' | 'random', rng: Rng): Int32Array {
  if (bank === 'ordered') return Int32Array.from({ length: m }, (_, i) => i);
  // Same seed stream on every derivation: a given bank size always draws the same subset.
  return rng.derive('bank').permutation(n).subarray(0, m);
}

/**
 * NNGuide (Park et al. 2023) as OpenOOD v1.5: the guide bank is ẑ_t · logsumexp(ℓ_t) (ẑ
 * L2-normalised) over the bank rows (`nnguideBankSize`, `bank`); conf = mean of the K largest inner
 * products ⟨ẑ, guide⟩ (faiss IndexFlatIP) times the query's energy logsumexp(ℓ); pred = argmax ℓ.
 * The bank is rebuilt when α, `bank` or `bank_batch_size` change (OpenOOD keeps the bank of its
 * setup-time α).
 */
export class NnguidePostprocessor extends BasePostprocessor<typeof nnguideArgs> {
  readonly name = 'nnguide';
  override readonly requires = ['train'] as const;
  private trainFeatures?: Float32Array;
  private trainCount = 0;
  /** Guide rows ẑ·logsumexp(ℓ) of the current bank, row-major [bankSize, D]. */
  private guides?: Float32Array;
  private guideCount = 0;
  /** The bank rule the current bank was built with ('' when none). */
  private bankKey = '';
  /** argmax, logsumexp and the mean of the K largest ⟨ẑ, guide⟩ for the current bank and K. */
  private statistics?: RowStatistics;
  private readonly rng: Rng;

  constructor(schema: typeof nnguideArgs, args: z.infer<typeof nnguideArgs>, ctx: Pick<BuildContext, 'rng'>) {
    super(schema, args);
    this.rng = ctx.rng;
  }

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    this.trainFeatures = train.features;
    this.trainCount = train.count;
    this.bankKey = '';
  }

  protected override async derive(): Promise<void> {
    const { alpha, bank, bank_batch_size } = this.args;
    const key = `${alpha}/${bank}/${bank_batch_size}`;
    if (!this.guides || this.bankKey !== key) this.buildGuides(key);
    // K changes only the scoring: the statistics are re-made for every derivation, the bank is not
    this.statistics?.dispose();
    this.statistics = await RowStatistics.create({
      dim: this.head.featureDim,
      head: this.head.host,
      bank: { rows: this.guides!, count: this.guideCount, k: Math.min(this.args.K, this.guideCount) },
      outputs: ['argmax', 'logsumexp', 'meanTopK'],
    });
  }

  private buildGuides(key: string): void {
    const { alpha, bank, bank_batch_size } = this.args;
    const n = this.trainCount;
    const d = this.head.featureDim;
    const m = nnguideBankSize(n, alpha, bank_batch_size);
    const order = nnguideBankRows(n, m, bank, this.rng);
    const rows = new Float32Array(m * d);
    order.forEach((src, i) => rows.set(this.trainFeatures!.subarray(src * d, (src + 1) * d), i * d));
    const guide = tf.tidy(() => {
      const zt = tf.tensor2d(rows, [m, d], 'float32');
      const energy = logSumExp(this.head.logits(zt));
      return tf.mul(l2Normalize(zt), energy.expandDims(1)) as Tensor2D;
    });
    try {
      this.guides = guide.dataSync() as Float32Array;
    } finally {
      guide.dispose();
    }
    this.guideCount = m;
    this.bankKey = key;
  }

  get bankSize(): number {
    return this.guides ? this.guideCount : 0;
  }

  protected override releaseState(): void {
    this.statistics?.dispose();
    this.statistics = this.guides = this.trainFeatures = undefined;
    this.guideCount = 0;
    this.bankKey = '';
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const { argmax, logsumexp, meanTopK } = await this.statistics!.compute(this.features(batch), batch.hostFeatures);
    // the product in float32, as the tensor op it replaces
    return { pred: argmax!, conf: Float64Array.from(meanTopK!, (s, i) => Math.fround(s * logsumexp![i]!)) };
  }
}

export const nnguideDefinition = definePostprocessor(
  {
    name: 'nnguide',
    description: 'energy times the mean similarity to the K nearest energy-weighted train guides',
    args: nnguideArgs,
    grid: { K: [100], alpha: [0.01] },
  },
  NnguidePostprocessor,
);
