import { RowStatistics } from '@oodkit/compute';
import { DataError, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type ScoringModel } from '@oodkit/core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { symmetricEigen, type SymmetricEigen } from '../math/eigen.js';
import { pinvTimes } from '../math/pinv.js';
import { residualBasis, secondMomentAbout } from './vim.js';

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
  private u?: Float32Array;
  /** argmax and ‖(z − u)·N‖ of the current `dim`. */
  private statistics?: RowStatistics;

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
    this.eigen = symmetricEigen(await secondMomentAbout(val.features, val.count, d, u), d);
    this.u = Float32Array.from(u);
  }

  protected override async derive(): Promise<void> {
    const { basis, width } = residualBasis(this.eigen!, this.args.dim);
    this.statistics?.dispose();
    this.statistics = await RowStatistics.create({
      dim: this.eigen!.n,
      head: this.head.host,
      projection: { centre: this.u!, basis, width },
      outputs: ['argmax', 'projectedNorm'],
    });
  }

  protected override releaseState(): void {
    this.statistics?.dispose();
    this.statistics = this.u = undefined;
    this.eigen = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const { argmax, projectedNorm } = await this.statistics!.compute(this.features(batch), batch.hostFeatures);
    return { pred: argmax!, conf: Float64Array.from(projectedNorm!, (v) => -v) };
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
