import { tf } from '@oodkit/compute';
import {
  DataError,
  UsageError,
  featureLayersOf,
  type Classifier,
  type PostprocessorSetupData,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor, definePostprocessor, requireSplit } from '../lifecycle/index.js';
import { layerSplit } from '../lifecycle/layered.js';
import { classCentredRows, classMeans, empiricalCovariance } from '../math/covariance.js';
import { checkFeatureLayers, pooledFeatureLayers } from '../math/feature-layers.js';
import { SharedPrecisionGaussians } from '../math/gaussian.js';

export const mdsEnsembleArgs = z.strictObject({
  noise: z.number().min(0).default(0.0014).describe('input perturbation magnitude ε (OpenOOD: noise)'),
  feature_type_list: z
    .array(z.literal('mean'))
    .min(1)
    .default(['mean'])
    .describe("per layer, how its map becomes a vector: 'mean' = global average pool (OpenOOD's default; flat/stat are not supported)"),
  reduce_dim_list: z
    .array(z.literal('none'))
    .optional()
    .describe("per layer, OpenOOD's dimension reduction: only 'none' (capca/pca/lda are not supported)"),
  alpha_list: z.array(z.number()).min(1).default([1]).describe('weight of each layer in conf = Σ_l α_l·score_l (OpenOOD: alpha_list)'),
  layers: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe("the layers by name; default: the first len(feature_type_list) of the network's list (OpenOOD indexes return_feature_list)"),
});
type MdsEnsembleArgs = z.infer<typeof mdsEnsembleArgs>;

/** OpenOOD replaces the gradient sign's channels 0..2 by sign / 0.5 ("the default value of 0.5"). */
const GRADIENT_STD = 0.5;

/**
 * Multi-layer Mahalanobis with input preprocessing (Lee et al. 2018) as OpenOOD's
 * MDSEnsemblePostprocessor computes it. Setup, per layer l: f_l = the global average pool of the
 * layer's map (feature type 'mean') on ID train; class means μ_c and P = pinvh of the empirical
 * covariance of the class-centred f_l (sklearn EmpiricalCovariance). Scoring, per layer:
 * g_c(f) = −½ (f − μ_c)ᵀ P (f − μ_c); ŷ_l = argmax_c g_c(f_l(x)); x̃ = x − ε · s / 0.5 where
 * s = +1 where ∂ mean(−g_ŷ(f_l(x)))/∂x ≥ 0 and −1 elsewhere; score_l = max_c g_c(f_l(x̃)).
 * conf = Σ_l α_l · score_l; pred = ŷ of the last layer (OpenOOD returns that layer's sample_pred).
 * Inputs are NHWC, so every channel's sign is divided by 0.5 (OpenOOD: channels 0–2, i.e. all of RGB).
 */
export class MdsEnsemblePostprocessor extends BasePostprocessor<typeof mdsEnsembleArgs> {
  readonly name = 'mds_ensemble';
  override readonly needsNetwork = true;
  override readonly networkUse = 'intermediate blocks and input gradients';
  override readonly requires = ['train'] as const;
  private network?: Classifier;
  private layerNames: string[] = [];
  private gaussians: SharedPrecisionGaussians[] = [];

  /** The layers scored, given the network (OpenOOD's positions 0..n−1 of return_feature_list by default). */
  layersOf(network: Pick<Classifier, 'name' | 'blockNames'>, args: MdsEnsembleArgs = this.args): string[] {
    const n = args.feature_type_list.length;
    const layers = args.layers ?? featureLayersOf(network).slice(0, n);
    if (layers.length !== n) {
      throw new UsageError(
        `mds_ensemble: postprocessor.args.layers names ${layers.length} layer(s), feature_type_list has ${n} (network '${network.name}' has ${featureLayersOf(network).length} feature layers)`,
      );
    }
    if (args.alpha_list.length !== n) {
      throw new UsageError(`mds_ensemble: postprocessor.args.alpha_list has ${args.alpha_list.length} weight(s) for ${n} layer(s)`);
    }
    if (args.reduce_dim_list && args.reduce_dim_list.length !== n) {
      throw new UsageError(`mds_ensemble: postprocessor.args.reduce_dim_list has ${args.reduce_dim_list.length} entries for ${n} layer(s)`);
    }
    checkFeatureLayers(network, layers);
    return layers;
  }

  setupLayers(model: ScoringModel): readonly string[] {
    return model.network ? this.layersOf(model.network) : [];
  }

  protected override async fit(model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const network = model.network!;
    this.network = network;
    this.layerNames = this.layersOf(network);
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    const c = this.head.numClasses;
    for (const layer of this.layerNames) {
      const split = layerSplit(train, layer);
      const means = classMeans(split, c);
      const cov = empiricalCovariance(classCentredRows(split, means));
      this.gaussians.push(new SharedPrecisionGaussians(means, c, cov, split.dim));
    }
  }

  protected override releaseState(): void {
    for (const g of this.gaussians) g.dispose();
    this.gaussians = [];
    this.network = undefined;
    super.releaseState();
  }

  /** f_l(x): the pooled layer of the network's forward pass (differentiable in x). */
  private layerFeatures(x: Tensor4D, l: number): Tensor2D {
    return tf.tidy(() => {
      const out = pooledFeatureLayers(this.network!, x, [this.layerNames[l]!]);
      return out.layers[this.layerNames[l]!]!;
    });
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const x = batch.inputs;
    if (!x) throw new UsageError('mds_ensemble perturbs inputs: the score batch must carry `inputs`');
    const noise = this.args.noise;
    const n = x.shape[0];
    const total = new Float64Array(n);
    let pred = new Int32Array(n);
    for (let l = 0; l < this.layerNames.length; l++) {
      const gaussians = this.gaussians[l]!;
      const { predT, scoreT } = tf.tidy(() => {
        const yHat = tf.argMin(gaussians.squaredDistances(this.layerFeatures(x, l)), 1) as Tensor1D;
        const mask = tf.oneHot(yHat, this.head.numClasses);
        // loss = mean(−g_ŷ) = mean(½ d_ŷ); ŷ is fixed (OpenOOD picks it on detached features)
        const loss = (input: tf.Tensor) =>
          tf.mean(tf.mul(tf.sum(tf.mul(gaussians.squaredDistances(this.layerFeatures(input as Tensor4D, l)), mask), 1), 0.5));
        const grad = tf.grad(loss)(x);
        const sign = tf.sub(tf.mul(tf.cast(tf.greaterEqual(grad, 0), 'float32'), 2), 1);
        const perturbed = tf.sub(x, tf.mul(tf.div(sign, GRADIENT_STD), noise)) as Tensor4D;
        const score = tf.mul(tf.min(gaussians.squaredDistances(this.layerFeatures(perturbed, l)), 1), -0.5) as Tensor1D;
        return { predT: yHat, scoreT: score };
      });
      try {
        const [p, s] = await Promise.all([predT.data(), scoreT.data()]);
        const alpha = this.args.alpha_list[l]!;
        for (let i = 0; i < n; i++) total[i] = total[i]! + alpha * s[i]!;
        pred = Int32Array.from(p);
      } finally {
        tf.dispose([predT, scoreT]);
      }
    }
    for (let i = 0; i < n; i++) if (Number.isNaN(total[i]!)) throw new DataError(`mds_ensemble: NaN score for sample ${i}`);
    return { pred, conf: total };
  }
}

export const mdsEnsembleDefinition = definePostprocessor(
  {
    name: 'mds_ensemble',
    description: 'multi-layer Mahalanobis with input preprocessing, layers weighted by alpha_list (OpenOOD mds_ensemble)',
    args: mdsEnsembleArgs,
    grid: { noise: [0.0014] },
  },
  MdsEnsemblePostprocessor,
);
