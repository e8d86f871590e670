import { RowStatistics, denseLinalg } from '@oodkit/compute';
import { DataError, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type ScoringModel } from '@oodkit/core';
import { z } from 'zod';
import { assertFiniteSplit, definePostprocessor, BasePostprocessor, requireSplit, type GridFolds } from '../lifecycle/index.js';
import { rowsOf, scatterAbout } from '../math/covariance.js';
import { symmetricEigen, type SymmetricEigen } from '../math/eigen.js';
import { pinvTimes } from '../math/pinv.js';

export const vimArgs = z.strictObject({
  dim: z
    .number()
    .int()
    .positive()
    .default(256)
    .describe('dimension of the principal subspace; values ≥ the feature dim D fall back to ⌊D/2⌋ (ViM paper rule)'),
});

/**
 * Uncentred second moment (1/N) Σ (z − u)(z − u)ᵀ: sklearn EmpiricalCovariance(assume_centered=True),
 * which OpenOOD feeds float32 z − u (one float32 product). On the onnxruntime route: z − u in float32
 * as there, products in float32 blocks summed in float64; on the backend route all in float64.
 */
export async function secondMomentAbout(features: Float32Array, count: number, dim: number, u: Float64Array): Promise<Float64Array> {
  const linalg = await denseLinalg();
  if (linalg) return linalg.secondMomentAbout(features, count, dim, Float32Array.from(u));
  return scatterAbout(rowsOf(features, count, dim), u);
}

/** The `dim` actually used: a principal space as wide as the features leaves no residual. */
export function effectiveVimDim(dim: number, featureDim: number): number {
  return dim < featureDim ? dim : Math.floor(featureDim / 2);
}

/** Mean in float64, summed in row order. */
function meanOf(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

/**
 * The eigenvectors beyond the `dim` largest eigenvalues as a row-major [D, D − dim] float32 basis
 * (the vim fallback rule applied to `dim`). Eigenvalues are ascending, so they are the first D − dim.
 */
export function residualBasis(eig: SymmetricEigen, dim: number): { basis: Float32Array; width: number } {
  const d = eig.n;
  const width = d - effectiveVimDim(dim, d);
  const basis = new Float32Array(d * width);
  for (let i = 0; i < d; i++) for (let k = 0; k < width; k++) basis[i * width + k] = eig.vectors[i * d + k];
  return { basis, width };
}

/**
 * Virtual-logit matching (ViM, Wang et al. 2022) as OpenOOD v1.5: origin u = −pinv(W)·b; the
 * uncentred covariance of (z_train − u) is eigendecomposed and N spans the eigenvectors beyond the
 * `dim` largest eigenvalues; α = mean_train(max logit) / mean_train(‖(z − u)·N‖);
 * conf = logsumexp(ℓ) − α‖(z − u)·N‖, pred = argmax ℓ. N and α are re-derived whenever `dim` changes.
 */
export class VimPostprocessor extends BasePostprocessor<typeof vimArgs> {
  readonly name = 'vim';
  override readonly requires = ['train'] as const;
  private eigen?: SymmetricEigen;
  private trainZ?: Float32Array;
  /** mean over train of max ℓ, from the first `derive`'s pass over the train split. */
  private meanMaxLogit?: number;
  private u?: Float32Array;
  /** logsumexp, argmax, max ℓ and ‖(z − u)·N‖ of the current `dim`. */
  private statistics?: RowStatistics;
  private alphaValue = 0;

  protected override async fit(model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    // A NaN or ±Infinity anywhere in train makes its column's entry of the second moment's diagonal
    // non-finite, so the split is checked there instead of in a pass of its own.
    const train = requireSplit(data, 'train', this.name, this.head.featureDim, { finiteCheck: 'deferred' });
    const { numClasses: c, featureDim: d, weight, bias } = model.finalLayer;
    if (d < 2) throw new DataError(`vim: feature dim ${d} leaves no residual space (needs D ≥ 2)`);
    const negB = Float64Array.from(bias, (v) => -v);
    const u = pinvTimes(weight, c, d, negB);
    const moment = await secondMomentAbout(train.features, train.count, d, u);
    for (let j = 0; j < d; j++) {
      if (!Number.isFinite(moment[j * d + j])) {
        assertFiniteSplit(train, 'train', this.name);
        throw new DataError(
          `vim: train split '${train.name}' has features too large for float32 products (the second moment of dim ${j} overflows); ` +
            'rescale the features or use compute.linalg: backend (float64)',
        );
      }
    }
    this.eigen = symmetricEigen(moment, d);
    this.u = Float32Array.from(u);
    // read again by every derive (a `dim` change re-derives N and α); sources keep setup splits unchanged
    this.trainZ = train.features;
    this.meanMaxLogit = undefined;
  }

  protected override async derive(): Promise<void> {
    const d = this.eigen!.n;
    const { basis, width } = residualBasis(this.eigen!, this.args.dim);
    this.statistics?.dispose();
    this.statistics = await RowStatistics.create({
      dim: d,
      head: this.head.host,
      projection: { centre: this.u!, basis, width },
      // maxLogit is for the train pass below: one pass over train instead of a second one in fit
      outputs: ['logsumexp', 'argmax', 'maxLogit', 'projectedNorm'],
    });
    const train = await this.statistics.compute(this.trainZ!);
    this.meanMaxLogit ??= meanOf(train.maxLogit!);
    const meanNorm = meanOf(train.projectedNorm!);
    if (!(meanNorm > 0)) {
      throw new DataError(`vim: train features have no component in the residual space (dim = ${effectiveVimDim(this.args.dim, d)})`);
    }
    this.alphaValue = this.meanMaxLogit / meanNorm;
  }

  /** α of the current `dim` (for reports and tests). */
  get alpha(): number {
    return this.alphaValue;
  }

  /** `dim` values that fall back to the same width are one grid point. */
  protected override gridFolds(): GridFolds {
    const d = this.eigen!.n;
    return { dim: (k) => effectiveVimDim(Number(k), d) };
  }

  protected override releaseState(): void {
    this.statistics?.dispose();
    this.statistics = this.trainZ = this.u = undefined;
    this.eigen = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const { logsumexp, argmax, projectedNorm } = await this.statistics!.compute(this.features(batch), batch.hostFeatures);
    const alpha = this.alphaValue;
    return { pred: argmax!, conf: Float64Array.from(logsumexp!, (lse, i) => lse - alpha * projectedNorm![i]!) };
  }
}

export const vimDefinition = definePostprocessor(
  {
    name: 'vim',
    description: 'energy minus α·norm of the feature residual outside the principal subspace (virtual logit)',
    args: vimArgs,
    grid: { dim: [256, 1000] },
  },
  VimPostprocessor,
);
