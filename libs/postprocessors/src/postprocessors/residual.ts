import { tf } from '@oodkit/compute';
import { DataError, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type ScoringModel } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { symmetricEigen, type SymmetricEigen } from '../math/eigen.js';
import { pinvTimes } from '../math/pinv.js';
import { argmax, toScoreResult } from '../math/softmax.js';
import { effectiveVimDim, secondMomentAbout } from './vim.js';

export const residualArgs = z.strictObject({
  dim: z
    .number()
    .int()
    .positive()
    .default(512)
    .describe('dimension of the principal subspace; values ≥ the feature dim D fall back to ⌊D/2⌋ as in vim'),
});

/**
 * Residual score (the ViM paper's baseline) as OpenOOD v1.5: with u = −pinv(W)·b and N the
 * eigenvectors of the uncentred covariance of (z_val − u) beyond the `dim` largest eigenvalues,
 * conf = −‖(z − u)·N‖. OpenOOD fits on the ID *val* split; its default dim = 512 equals ResNet-18's
 * D and would leave an empty residual (every score 0), hence vim's ⌊D/2⌋ fallback here too.
 */
export class ResidualPostprocessor extends BasePostprocessor<typeof residualArgs> {
  readonly name = 'residual';
  override readonly requires = ['val'] as const;
  private eigen?: SymmetricEigen;
  private u?: Tensor1D;
  private nullSpace?: Tensor2D;

  protected override async fit(model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const val = requireSplit(data, 'val', this.name, this.head.featureDim);
    const { numClasses: c, featureDim: d, weight, bias } = model.finalLayer;
    if (d < 2) throw new DataError(`residual: feature dim ${d} leaves no residual space (needs D ≥ 2)`);
    const u = pinvTimes(
      weight,
      c,
      d,
      Float64Array.from(bias, (v) => -v),
    );
    this.eigen = symmetricEigen(secondMomentAbout(val.features, val.count, d, u), d);
    this.u = tf.tensor1d(Float32Array.from(u), 'float32');
  }

  protected override async derive(): Promise<void> {
    const eig = this.eigen!;
    const d = eig.n;
    const width = d - effectiveVimDim(this.args.dim, d);
    const ns = new Float32Array(d * width);
    for (let i = 0; i < d; i++) for (let k = 0; k < width; k++) ns[i * width + k] = eig.vectors[i * d + k];
    this.nullSpace?.dispose();
    this.nullSpace = tf.tensor2d(ns, [d, width], 'float32');
  }

  protected override releaseState(): void {
    this.u?.dispose();
    this.nullSpace?.dispose();
    this.u = this.nullSpace = undefined;
    this.eigen = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const pred = tf.tidy(() => argmax(this.head.logits(z)));
    const conf = tf.tidy(() => tf.neg(tf.norm(tf.matMul(tf.sub(z, this.u!), this.nullSpace!), 'euclidean', 1)) as Tensor1D);
    return toScoreResult(pred, conf);
  }
}

export const residualDefinition = definePostprocessor(
  {
    name: 'residual',
    description: 'negative norm of the feature residual outside the principal subspace of ID val features',
    args: residualArgs,
  },
  ResidualPostprocessor,
);
