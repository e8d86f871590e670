import { tf } from '@oodkit/compute';
import {
  ConfigError,
  DataError,
  defineComponent,
  readNpyAsFloat64,
  type PostprocessorSetupData,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor } from '../math/base.js';
import { scoreLogits } from '../math/softmax.js';

export const weightedEboArgs = z.strictObject({
  weights: z
    .array(z.number().finite())
    .min(1)
    .optional()
    .describe("per-class energy weights w (VOS's weight_energy); default all ones, which is ebo at T = 1"),
  weights_file: z.string().min(1).optional().describe('.npy file with the C weights (shape [C], [1, C] or [C, 1]) instead of `weights`'),
});
export type WeightedEboArgs = z.infer<typeof weightedEboArgs>;

/**
 * Weighted energy: conf = log Σ_c relu(w_c)·exp(ℓ_c), computed as m + log Σ_c relu(w_c)·exp(ℓ_c − m)
 * with m = max_c ℓ_c (pytorch-ood exponentiates the raw logits, which overflows float32 above ℓ ≈ 88).
 */
export function weightedEnergyScore(logits: Tensor2D, weights: Tensor1D): Tensor1D {
  return tf.tidy(() => {
    const m = tf.max(logits, 1, true);
    const sum = tf.sum(tf.mul(tf.relu(weights), tf.exp(tf.sub(logits, m))), 1, true);
    return tf.add(m, tf.log(sum)).reshape([logits.shape[0]]) as Tensor1D;
  });
}

/**
 * Weighted energy score of VOS (Du et al. 2022), as pytorch-ood's `WeightedEBO`: the energy of the
 * logits with learned, ReLU-clipped class weights — the weights VOS trains in its uncertainty loss
 * (oodkit's `vos` trainer stores them as `weight_energy.weight`). OpenOOD scores VOS models with plain
 * ebo; without weights this method is exactly that. pred = argmax ℓ.
 */
export class WeightedEboPostprocessor extends BasePostprocessor<typeof weightedEboArgs> {
  readonly name = 'weighted_ebo';
  private weightTensor?: Tensor1D;

  protected override async fit(model: ScoringModel, _data: PostprocessorSetupData): Promise<void> {
    const c = model.finalLayer.numClasses;
    const w = await resolveWeights(this.args, c);
    if (!w.some((v) => v > 0)) {
      throw new DataError('weighted_ebo: every weight is ≤ 0, so relu(w) = 0 and every energy would be −∞');
    }
    this.weightTensor = tf.tensor1d(Float32Array.from(w), 'float32');
  }

  protected override releaseState(): void {
    this.weightTensor?.dispose();
    this.weightTensor = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const w = this.weightTensor!;
    return scoreLogits(this.head.logits(this.features(batch)), (l) => weightedEnergyScore(l, w));
  }
}

async function resolveWeights(args: WeightedEboArgs, numClasses: number): Promise<number[]> {
  if (args.weights && args.weights_file) {
    throw new ConfigError(
      [{ path: 'postprocessor.args', message: "give either 'weights' or 'weights_file', not both" }],
      'weighted_ebo: conflicting weights',
    );
  }
  let w: number[];
  let source: string;
  if (args.weights_file) {
    const { shape, data } = await readNpyAsFloat64(args.weights_file);
    if (!(shape.length === 1 || (shape.length === 2 && (shape[0] === 1 || shape[1] === 1)))) {
      throw new DataError(`${args.weights_file}: shape [${shape.join(', ')}], expected [C], [1, C] or [C, 1] energy weights`);
    }
    w = Array.from(data);
    source = args.weights_file;
  } else {
    w = args.weights ?? new Array<number>(numClasses).fill(1);
    source = 'postprocessor.args.weights';
  }
  if (w.length !== numClasses) throw new DataError(`${source}: ${w.length} weights, the final layer has C = ${numClasses} classes`);
  if (!w.every(Number.isFinite)) throw new DataError(`${source}: weights must be finite`);
  return w;
}

export const weightedEboDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'weighted_ebo',
  description: "VOS's weighted energy log Σ relu(w_c)·exp(logit_c) (pytorch-ood WeightedEBO)",
  args: weightedEboArgs,
  create: (args) => new WeightedEboPostprocessor(weightedEboArgs, args),
});
