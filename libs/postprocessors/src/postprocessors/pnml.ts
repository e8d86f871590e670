import { tf } from '@oodkit/compute';
import { defineComponent, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type ScoringModel } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor, requireSplit } from '../math/base.js';
import { empiricalCovariance, type RowSource } from '../math/covariance.js';
import { symmetricEigen } from '../math/eigen.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const pnmlArgs = z.strictObject({});

/** pytorch-ood's probability clamp [eps, 1 − eps] and F.normalize's norm floor. */
const PROB_EPS = 1e-12;
const NORM_EPS = 1e-12;
/** float32 machine epsilon: torch.linalg.pinv's default rtol on float32 input is max(m, n)·eps. */
const FLOAT32_EPS = 2 ** -23;

/**
 * P = pinv(ẐᵀẐ) of the L2-normalised train features Ẑ (ẑ = z / max(‖z‖, 1e-12), F.normalize), [D, D]
 * row-major. ẐᵀẐ = N·(Σ + m·mᵀ) from the shared tiled float64 covariance (Σ, m of the normalised rows);
 * eigenvalues below λ_max·D·eps(float32) are dropped — the cutoff torch.linalg.pinv applies to the
 * float32 Gram matrix pytorch-ood builds.
 */
export function pnmlProjector(features: Float32Array, count: number, d: number): Float64Array {
  const normalized: RowSource = {
    count,
    dim: d,
    read(i, out) {
      let s = 0;
      for (let j = 0; j < d; j++) s += features[i * d + j]! * features[i * d + j]!;
      const norm = Math.max(Math.sqrt(s), NORM_EPS);
      for (let j = 0; j < d; j++) out[j] = features[i * d + j]! / norm;
    },
  };
  const mean = new Float64Array(d);
  const row = new Float64Array(d);
  for (let i = 0; i < count; i++) {
    normalized.read(i, row);
    for (let j = 0; j < d; j++) mean[j]! += row[j]! / count;
  }
  const gram = empiricalCovariance(normalized);
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) gram[a * d + b] = count * (gram[a * d + b]! + mean[a]! * mean[b]!);
  const { values, vectors } = symmetricEigen(gram, d);
  let maxAbs = 0;
  for (const v of values) maxAbs = Math.max(maxAbs, Math.abs(v));
  const cutoff = maxAbs * d * FLOAT32_EPS;
  const p = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    if (!(Math.abs(values[k]!) > cutoff)) continue;
    const inv = 1 / values[k]!;
    for (let a = 0; a < d; a++) {
      const va = vectors[a * d + k]! * inv;
      for (let b = 0; b < d; b++) p[a * d + b]! += va * vectors[b * d + k]!;
    }
  }
  return p;
}

/**
 * The pNML regret (Bibas et al. 2021, "Single layer predictive normalized maximum likelihood for OOD
 * detection") as pytorch-ood's `PNML`: ẑ = z/‖z‖, p = softmax(head(ẑ)) clamped to [1e-12, 1 − 1e-12],
 * κ = ẑᵀPẑ / (1 + ẑᵀPẑ) with P = pinv(ẐᵀẐ) of the normalised train features, regret =
 * log Σ_c p_c / (p_c + (1 − p_c)·p_c^κ) / log C; conf = −regret. OpenOOD has no pNML. pytorch-ood
 * differs from the authors' code in leaving out their bias column and the max with the orthogonal
 * component (zero whenever ẐᵀẐ is invertible). pred = argmax of the ordinary logits head(z).
 */
export class PnmlPostprocessor extends BasePostprocessor<typeof pnmlArgs> {
  readonly name = 'pnml';
  override readonly requires = ['train'] as const;
  private projector?: Tensor2D;

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    const p = pnmlProjector(train.features, train.count, train.dim);
    this.projector = tf.tensor2d(Float32Array.from(p), [train.dim, train.dim], 'float32');
  }

  protected override releaseState(): void {
    this.projector?.dispose();
    this.projector = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const pred = tf.tidy(() => argmax(this.head.logits(z)));
    const conf = tf.tidy(() => {
      const zn = tf.div(z, tf.maximum(tf.sqrt(tf.sum(tf.square(z), 1, true)), NORM_EPS)) as Tensor2D;
      const p = tf.clipByValue(tf.softmax(this.head.logits(zn)), PROB_EPS, 1 - PROB_EPS);
      const proj = tf.sum(tf.mul(tf.matMul(zn, this.projector!), zn), 1, true);
      const kappa = tf.div(proj, tf.add(proj, 1));
      const terms = tf.div(p, tf.add(p, tf.mul(tf.sub(1, p), tf.pow(p, kappa))));
      const regret = tf.div(tf.log(tf.sum(terms, 1)), Math.log(p.shape[1]!));
      return tf.neg(regret) as Tensor1D;
    });
    return toScoreResult(pred, conf);
  }
}

export const pnmlDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'pnml',
  description: 'pNML regret of the normalised-feature classifier (pytorch-ood PNML)',
  args: pnmlArgs,
  create: (args) => new PnmlPostprocessor(pnmlArgs, args),
});
