import { tf } from '@oodkit/compute';
import {
  defineComponent,
  type FeatureSplit,
  type Logger,
  type PostprocessorSetupData,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor } from '../math/base.js';
import { argmax, logSumExp, toScoreResult } from '../math/softmax.js';
import { CAREF_NORM_EPS, fitCentroids, l1Norm } from './caref.js';

export const cadrefArgs = z.strictObject({
  logit_score: z
    .enum(['energy', 'gen', 'mls', 'msp'])
    .default('energy')
    .describe('logit-based confidence S(x) that scales the positive error: logsumexp, 1/GEN, max logit or max softmax'),
});
export type CadrefLogitScore = z.infer<typeof cadrefArgs>['logit_score'];

/** γ of the GEN confidence, and M = max(10, ⌊C/10⌋) largest probabilities (the reference code's values). */
const GEN_GAMMA = 0.1;

/**
 * The confidence S(x) CADRef divides the positive error by (pytorch-ood: −logit_score(ℓ)):
 * energy = logsumexp ℓ, mls = max ℓ, msp = max softmax, gen = 1 / Σ_{top M} p^γ(1 − p)^γ with
 * γ = 0.1, M = max(10, ⌊C/10⌋), the sum clamped at 1e-12 — the reference's reciprocal GEN, not gen's score.
 */
export function cadrefConfidence(logits: Tensor2D, score: CadrefLogitScore): Tensor1D {
  return tf.tidy(() => {
    switch (score) {
      case 'energy':
        return logSumExp(logits);
      case 'mls':
        return tf.max(logits, 1) as Tensor1D;
      case 'msp':
        return tf.max(tf.softmax(logits), 1) as Tensor1D;
      case 'gen': {
        const c = logits.shape[1];
        const m = Math.min(c, Math.max(10, Math.floor(c / 10)));
        const p = tf.topk(tf.softmax(logits), m, true).values;
        const entropy = tf.sum(tf.mul(tf.pow(p, GEN_GAMMA), tf.pow(tf.sub(1, p), GEN_GAMMA)), 1);
        return tf.div(1, tf.maximum(entropy, CAREF_NORM_EPS)) as Tensor1D;
      }
    }
  });
}

/**
 * CADRef (Ling et al. 2025) as pytorch-ood's `CADRef`, which follows the authors' code: the relative
 * feature r = z − μ_ŷ (μ_ŷ = mean train feature of the samples predicted ŷ, see caref) is split by the
 * sign of the predicted class's weights, a = r ⊙ sign(w_ŷ); E_p = Σ max(a, 0) / ‖z‖₁ (the part that
 * raises the max logit) and E_n = Σ max(−a, 0) / ‖z‖₁; conf = −(E_p / S(x) + E_n / S̄), S̄ the mean of
 * S over the train features. Dimensions with zero weight drop out of both. OpenOOD has no CADRef.
 * pred = ŷ. The paper's equations (7)–(8) split on sign(w·z) instead; pytorch-ood documents why it
 * (and this file) follows the code.
 */
export class CadrefPostprocessor extends BasePostprocessor<typeof cadrefArgs> {
  readonly name = 'cadref';
  override readonly requires = ['train'] as const;
  private train?: FeatureSplit;
  private centroids?: Tensor2D;
  private meanConfidence = Number.NaN;

  constructor(
    schema: typeof cadrefArgs,
    args: z.infer<typeof cadrefArgs>,
    private readonly logger?: Logger,
  ) {
    super(schema, args);
  }

  /** S̄ for the current logit_score (re-derived when it changes). */
  get trainMeanConfidence(): number {
    return this.meanConfidence;
  }

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const { train, centroids } = await fitCentroids(this.head, data, this.name, this.logger);
    this.train = train;
    this.centroids = centroids;
  }

  protected override async derive(): Promise<void> {
    const { count: n, dim: d, features } = this.train!;
    let sum = 0;
    for (let start = 0; start < n; start += 4096) {
      const rows = Math.min(4096, n - start);
      const s = tf.tidy(() => {
        const z = tf.tensor2d(features.subarray(start * d, (start + rows) * d), [rows, d], 'float32');
        return cadrefConfidence(this.head.logits(z), this.args.logit_score);
      });
      for (const v of await s.data()) sum += v;
      s.dispose();
    }
    this.meanConfidence = sum / n;
  }

  protected override releaseState(): void {
    this.centroids?.dispose();
    this.centroids = undefined;
    this.train = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const logits = this.head.logits(z);
    try {
      const pred = argmax(logits);
      const conf = tf.tidy(() => {
        const aligned = tf.mul(tf.sub(z, tf.gather(this.centroids!, pred)), tf.sign(tf.gather(this.head.weight, pred)));
        const norm = l1Norm(z);
        const positive = tf.div(tf.sum(tf.relu(aligned), 1), norm);
        const negative = tf.div(tf.sum(tf.relu(tf.neg(aligned)), 1), norm);
        const s = cadrefConfidence(logits, this.args.logit_score);
        return tf.neg(tf.add(tf.div(positive, s), tf.div(negative, this.meanConfidence))) as Tensor1D;
      });
      return await toScoreResult(pred, conf);
    } finally {
      logits.dispose();
    }
  }
}

export const cadrefDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'cadref',
  description: 'CADRef: class-aware relative feature error split by weight sign, scaled by a logit confidence',
  args: cadrefArgs,
  grid: { logit_score: ['energy', 'gen', 'mls', 'msp'] },
  create: (args, ctx) => new CadrefPostprocessor(cadrefArgs, args, ctx.logger),
});
