import { tf } from '@oodkit/compute';
import { defineComponent, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type ScoringModel, type Rng } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor, requireSplit } from '../math/base.js';
import { l2Normalize, NeighbourBank } from '../math/neighbors.js';
import { argmax, logSumExp, toScoreResult } from '../math/softmax.js';

export const nnguideArgs = z.strictObject({
  K: z.number().int().positive().default(100).describe('number of nearest guide samples averaged (capped at the bank size)'),
  alpha: z.number().gt(0).max(1).default(0.01).describe('fraction of the train set drawn (randomly) into the guide bank'),
});

/**
 * Bank size for a train split of `n` samples and fraction α. OpenOOD adds shuffled train batches
 * until their count exceeds ⌊n·α⌋; with batches of one sample that is ⌊n·α⌋ + 1 samples, which is
 * used here so the result does not depend on a loader batch size.
 */
export function nnguideBankSize(n: number, alpha: number): number {
  return Math.min(n, Math.floor(n * alpha) + 1);
}

/**
 * NNGuide (Park et al. 2023) as OpenOOD v1.5: a random α-fraction of train samples forms the guide
 * bank ẑ_t · logsumexp(ℓ_t) (ẑ L2-normalised); conf = mean of the K largest inner products
 * ⟨ẑ, guide⟩ (faiss IndexFlatIP) times the query's energy logsumexp(ℓ); pred = argmax ℓ.
 * The bank subset is drawn from the component's seeded Rng stream; it is re-drawn when α changes.
 */
export class NnguidePostprocessor extends BasePostprocessor<typeof nnguideArgs> {
  readonly name = 'nnguide';
  override readonly requires = ['train'] as const;
  private trainFeatures?: Float32Array;
  private trainCount = 0;
  private bank?: NeighbourBank;
  private bankAlpha = -1;

  constructor(
    schema: typeof nnguideArgs,
    args: z.infer<typeof nnguideArgs>,
    private readonly rng: Rng,
  ) {
    super(schema, args);
  }

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    this.trainFeatures = train.features;
    this.trainCount = train.count;
    this.bankAlpha = -1;
  }

  protected override async derive(): Promise<void> {
    if (this.bank && this.bankAlpha === this.args.alpha) return;
    const n = this.trainCount;
    const d = this.head.featureDim;
    const m = nnguideBankSize(n, this.args.alpha);
    // Same seed stream on every derivation: a given α always draws the same subset.
    const order = this.rng.derive('bank').permutation(n).subarray(0, m);
    const rows = new Float32Array(m * d);
    order.forEach((src, i) => rows.set(this.trainFeatures!.subarray(src * d, (src + 1) * d), i * d));
    const guide = tf.tidy(() => {
      const zt = tf.tensor2d(rows, [m, d], 'float32');
      const energy = logSumExp(this.head.logits(zt));
      return tf.mul(l2Normalize(zt), energy.expandDims(1)) as Tensor2D;
    });
    this.bank?.dispose();
    try {
      this.bank = new NeighbourBank(guide, 'inner_product');
    } finally {
      guide.dispose();
    }
    this.bankAlpha = this.args.alpha;
  }

  get bankSize(): number {
    return this.bank?.count ?? 0;
  }

  protected override releaseState(): void {
    this.bank?.dispose();
    this.bank = undefined;
    this.trainFeatures = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const k = Math.min(this.args.K, this.bank!.count);
    const logits = this.head.logits(z);
    try {
      const pred = argmax(logits);
      const conf = tf.tidy(() => tf.mul(tf.mean(this.bank!.topK(l2Normalize(z), k), 1), logSumExp(logits)) as Tensor1D);
      return await toScoreResult(pred, conf);
    } finally {
      logits.dispose();
    }
  }
}

export const nnguideDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'nnguide',
  description: 'energy times the mean similarity to the K nearest energy-weighted train guides',
  args: nnguideArgs,
  grid: { K: [100], alpha: [0.01] },
  create: (args, ctx) => new NnguidePostprocessor(nnguideArgs, args, ctx.rng),
});
