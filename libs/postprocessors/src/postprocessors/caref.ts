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
import { BasePostprocessor, requireSplit } from '../math/base.js';
import { hostLogits, type LinearHead } from '../math/head.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const carefArgs = z.strictObject({});

/** pytorch-ood's floor for the ‖z‖₁ normaliser, so an all-zero feature scores large instead of NaN. */
export const CAREF_NORM_EPS = 1e-12;

/**
 * Mean train feature per *predicted* class (argmax of the logits, not the label), in float64 — the
 * class-aware centroids of CARef/CADRef. A class the model never predicts on the train split gets the
 * mean of all train features (pytorch-ood's fallback; the authors' code leaves it empty → NaN); the
 * count of such classes is returned so the caller can warn.
 */
export function predictedClassMeans(head: LinearHead, train: FeatureSplit): { means: Float64Array; unpredicted: number } {
  const { count: n, dim: d, features } = train;
  const c = head.numClasses;
  const logits = hostLogits(head, features, n);
  const sums = new Float64Array(c * d);
  const counts = new Float64Array(c);
  const total = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (logits[i * c + k]! > logits[i * c + best]!) best = k;
    counts[best]!++;
    for (let j = 0; j < d; j++) {
      sums[best * d + j]! += features[i * d + j]!;
      total[j]! += features[i * d + j]!;
    }
  }
  let unpredicted = 0;
  for (let k = 0; k < c; k++) {
    if (counts[k] === 0) unpredicted++;
    for (let j = 0; j < d; j++) sums[k * d + j] = counts[k] === 0 ? total[j]! / n : sums[k * d + j]! / counts[k]!;
  }
  return { means: sums, unpredicted };
}

/** Fits predicted-class centroids on train and warns about classes that fall back to the global mean. */
export async function fitCentroids(
  head: LinearHead,
  data: PostprocessorSetupData,
  method: string,
  logger: Logger | undefined,
): Promise<{ train: FeatureSplit; centroids: Tensor2D }> {
  const train = requireSplit(data, 'train', method, head.featureDim);
  const { means, unpredicted } = predictedClassMeans(head, train);
  if (unpredicted > 0) {
    logger?.warn(
      `${method}: ${unpredicted} of ${head.numClasses} classes are never predicted on the train split; ` +
        'their centroids fall back to the mean of all train features',
    );
  }
  return { train, centroids: tf.tensor2d(Float32Array.from(means), [head.numClasses, head.featureDim], 'float32') };
}

/** ‖z‖₁ clamped at CAREF_NORM_EPS, [N]. */
export function l1Norm(features: Tensor2D): Tensor1D {
  return tf.tidy(() => tf.maximum(tf.sum(tf.abs(features), 1), CAREF_NORM_EPS) as Tensor1D);
}

/**
 * CARef (Ling et al. 2025, "CADRef: robust OOD detection via class-aware decoupled relative feature
 * leveraging") as pytorch-ood's `CARef`: conf = −‖z − μ_ŷ‖₁ / ‖z‖₁, μ_ŷ the mean train feature of the
 * samples *predicted* as ŷ = argmax ℓ. Hyperparameter-free. OpenOOD has no CARef. pred = ŷ.
 */
export class CarefPostprocessor extends BasePostprocessor<typeof carefArgs> {
  readonly name = 'caref';
  override readonly requires = ['train'] as const;
  private centroids?: Tensor2D;

  constructor(
    schema: typeof carefArgs,
    args: z.infer<typeof carefArgs>,
    private readonly logger?: Logger,
  ) {
    super(schema, args);
  }

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    this.centroids = (await fitCentroids(this.head, data, this.name, this.logger)).centroids;
  }

  protected override releaseState(): void {
    this.centroids?.dispose();
    this.centroids = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const pred = tf.tidy(() => argmax(this.head.logits(z)));
    const conf = tf.tidy(() => {
      const relative = tf.sub(z, tf.gather(this.centroids!, pred));
      return tf.neg(tf.div(tf.sum(tf.abs(relative), 1), l1Norm(z))) as Tensor1D;
    });
    return toScoreResult(pred, conf);
  }
}

export const carefDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'caref',
  description: 'CARef: relative L1 distance of z to the mean train feature of its predicted class',
  args: carefArgs,
  create: (args, ctx) => new CarefPostprocessor(carefArgs, args, ctx.logger),
});
