import { tf } from '@oodkit/compute';
import {
  UsageError,
  type BuildContext,
  type Classifier,
  type PostprocessorSetupData,
  type Rng,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { symmetricEigen } from '../math/eigen.js';
import { energyScore, scoreLogits } from '../math/softmax.js';

/** OpenOOD's power iteration count (fixed in its code). */
export const RANKFEAT_POWER_ITERATIONS = 20;

export const rankfeatArgs = z.strictObject({
  accelerate: z
    .boolean()
    .default(false)
    .describe('estimate the rank-1 component by 20 power iterations (seeded) instead of an exact decomposition'),
  temperature: z.number().positive().default(1).describe('temperature T of the energy score T·logsumexp(ℓ/T)'),
});
export type RankfeatArgs = z.infer<typeof rankfeatArgs>;

/**
 * Each sample's map M [H·W, C] minus its rank-1 part σ₁u₁v₁ᵀ, exactly: the top eigenvector e of the
 * smaller Gram matrix (M Mᵀ or MᵀM, float64 on the host) gives σ₁u₁v₁ᵀ = e eᵀ M (or M e eᵀ). NHWC
 * holds the transpose of OpenOOD's [C, H·W] view, whose rank-1 part is the transpose of the same
 * term, so the result is the same map.
 */
export function removeRankOne(maps: Tensor4D): Tensor4D {
  const [n, h, w, c] = maps.shape;
  const hw = h * w;
  const small = Math.min(hw, c);
  const spatialSide = hw <= c;
  const gram = tf.tidy(() => {
    const m = tf.reshape(maps, [n, hw, c]) as Tensor3D;
    return spatialSide ? tf.matMul(m, m, false, true) : tf.matMul(m, m, true, false);
  });
  const g = gram.dataSync();
  gram.dispose();
  const top = new Float32Array(n * small);
  const block = new Float64Array(small * small);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < small * small; k++) block[k] = g[i * small * small + k];
    const { vectors } = symmetricEigen(block, small);
    for (let r = 0; r < small; r++) top[i * small + r] = vectors[r * small + (small - 1)]; // eigenvalues ascend
  }
  return tf.tidy(() => {
    const m = tf.reshape(maps, [n, hw, c]) as Tensor3D;
    const e = tf.tensor3d(top, [n, small, 1]);
    // spatial side: e (eᵀ M); channel side: (M e) eᵀ
    const rankOne = spatialSide ? tf.matMul(e, tf.matMul(e, m, true, false)) : tf.matMul(tf.matMul(m, e), e, false, true);
    return tf.reshape(tf.sub(m, rankOne), [n, h, w, c]) as Tensor4D;
  });
}

/**
 * OpenOOD's `power_iteration` (accelerate: true) in the NHWC layout: one normal start pair (u ∈ ℝ^C,
 * v ∈ ℝ^{H·W}) shared by the batch, `iterations` rounds of v ← (uA)/‖uA‖, u ← (Av)/‖Av‖ (norms + 1e-10),
 * σ = uAv and the map minus σ·u vᵀ. The start vectors come from `seed` (OpenOOD draws them unseeded).
 */
export function removeRankOnePower(maps: Tensor4D, iterations: number, seed: number): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = maps.shape;
    const hw = h * w;
    const a = tf.reshape(maps, [n, hw, c]) as Tensor3D; // Aᵀ of OpenOOD's A [C, H·W]
    const normalize = (x: Tensor3D) => tf.div(x, tf.add(tf.norm(x, 'euclidean', 2, true), 1e-10)) as Tensor3D;
    let u = tf.tile(tf.randomNormal([1, 1, c], 0, 1, 'float32', seed), [n, 1, 1]) as Tensor3D; // rows [N, 1, C]
    let v = tf.tile(tf.randomNormal([1, 1, hw], 0, 1, 'float32', seed + 1), [n, 1, 1]) as Tensor3D; // vᵀ rows [N, 1, HW]
    for (let t = 0; t < iterations; t++) {
      v = normalize(tf.matMul(u, a, false, true)); // uA
      u = normalize(tf.matMul(v, a)); // (Av)ᵀ
    }
    const sigma = tf.matMul(tf.matMul(u, a, false, true), v, false, true); // [N, 1, 1]
    const rankOne = tf.mul(sigma, tf.matMul(v, u, true, false)); // σ (u vᵀ)ᵀ = σ v uᵀ [N, HW, C]
    return tf.reshape(tf.sub(a, rankOne), [n, h, w, c]) as Tensor4D;
  });
}

/**
 * RankFeat (Song et al., NeurIPS 2022), as OpenOOD's `rankfeat` postprocessor
 * (openood/postprocessors/rankfeat_postprocessor.py, configs/postprocessors/rankfeat.yml): the rank-1
 * component is removed from the output of residual stage 4 (then pool + fc give ℓ₁) and from that of
 * stage 3 (then stage 4 + pool + fc give ℓ₂); ℓ = (ℓ₁ + ℓ₂)/2, conf = T·logsumexp(ℓ/T), pred = argmax ℓ.
 * Needs a network with residual stages (`stageOutput`/`forwardFromStage`: the ResNets). OpenOOD runs no
 * hyperparameter search for it (APS_mode False), so there is no grid.
 */
export class RankfeatPostprocessor extends BasePostprocessor<typeof rankfeatArgs> {
  readonly name = 'rankfeat';
  override readonly needsNetwork = true;
  override readonly networkUse = 'intermediate blocks (it re-runs the network from them)';
  private network?: Classifier;
  private readonly rng: Rng;

  constructor(schema: typeof rankfeatArgs, args: RankfeatArgs, ctx: BuildContext) {
    super(schema, args);
    this.rng = ctx.rng.derive('power-iteration');
  }

  protected override async fit(model: ScoringModel, _data: PostprocessorSetupData): Promise<void> {
    const network = model.network!;
    if (!network.stageOutput || !network.forwardFromStage) {
      throw new UsageError(`rankfeat edits the outputs of residual stages 3 and 4; network '${network.name}' exposes no stages`);
    }
    this.network = network;
  }

  protected override releaseState(): void {
    this.network = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const x = batch.inputs;
    if (!x) throw new UsageError('rankfeat edits intermediate feature maps: the score batch must carry `inputs`');
    const network = this.network!;
    const seed = this.args.accelerate ? this.rng.nextSeed() : 0;
    const strip = (maps: Tensor4D): Tensor4D =>
      this.args.accelerate ? removeRankOnePower(maps, RANKFEAT_POWER_ITERATIONS, seed) : removeRankOne(maps);
    const logits = tf.tidy(() => {
      const fromStage4 = network.forwardFromStage!(4, strip(network.stageOutput!(x, 4)));
      const fromStage3 = network.forwardFromStage!(3, strip(network.stageOutput!(x, 3)));
      return tf.div(tf.add(fromStage4, fromStage3), 2) as Tensor2D;
    });
    return scoreLogits(logits, (l) => energyScore(l, this.args.temperature));
  }
}

export const rankfeatDefinition = definePostprocessor(
  {
    name: 'rankfeat',
    description: 'RankFeat: energy of the mean logits after removing the rank-1 part of the stage-3 and stage-4 maps',
    args: rankfeatArgs,
  },
  RankfeatPostprocessor,
);
