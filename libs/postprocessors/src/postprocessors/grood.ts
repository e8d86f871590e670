import { tf } from '@oodkit/compute';
import {
  DataError,
  defineComponent,
  UsageError,
  type FeatureSplit,
  type PostprocessorSetupData,
  type Rng,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
  type SetupRole,
} from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor, requireSplit } from '../math/base.js';
import { hostLogits } from '../math/head.js';
import { NeighbourBank } from '../math/neighbors.js';
import { toScoreResult } from '../math/softmax.js';

export const groodArgs = z.strictObject({
  noise: z
    .enum(['ood_val', 'zero', 'prototype_mean'])
    .default('ood_val')
    .describe(
      "noise prototype: mean of OOD val features (OpenOOD's use_val_ood), the zero vector (neither source), or the mean class prototype (use_proto_mean)",
    ),
  n_noise_samples: z.number().int().positive().default(100).describe('OOD val samples averaged into the noise prototype'),
  sampling_ratio: z
    .number()
    .gt(0)
    .max(1)
    .default(1)
    .describe('fraction of the train split (seeded random subset) used for the prototypes and the gradient bank'),
});
export type GroodArgs = z.infer<typeof groodArgs>;

/**
 * −‖z − P_k‖ for the C class prototypes and the noise prototype (last column) [N, C + 1], the
 * nearest-class-centroid scores GrOOD's loss is built on.
 */
export function nccScores(features: Tensor2D, prototypes: Tensor2D): Tensor2D {
  return tf.tidy(() => {
    const d2 = tf.relu(
      tf.add(
        tf.sub(tf.sum(tf.square(features), 1, true), tf.mul(tf.matMul(features, prototypes, false, true), 2)),
        tf.sum(tf.square(prototypes), 1).expandDims(0),
      ),
    );
    return tf.neg(tf.sqrt(d2)) as Tensor2D;
  });
}

/**
 * ∂ CE(ncc(z), ŷ) / ∂ noise prototype = p_noise · (z − P_noise) / ‖z − P_noise‖ with p = softmax of the
 * NCC scores — the noise prototype is never the target ŷ (a class), so only its softmax term survives.
 * Closed form of the per-sample autograd gradient OpenOOD computes. [N, D]
 */
export function noiseGradients(features: Tensor2D, prototypes: Tensor2D): Tensor2D {
  return tf.tidy(() => {
    const c = prototypes.shape[0] - 1;
    const pNoise = tf.softmax(nccScores(features, prototypes)).slice([0, c], [features.shape[0], 1]);
    const fromNoise = tf.sub(features, prototypes.slice([c, 0], [1, features.shape[1]]));
    const norm = tf.maximum(tf.sqrt(tf.sum(tf.square(fromNoise), 1, true)), 1e-30);
    return tf.mul(pNoise, tf.div(fromNoise, norm)) as Tensor2D;
  });
}

/**
 * GrOOD (ElAraby et al. 2023, "GROOD: gradient-aware out-of-distribution detection") as OpenOOD's `grood` in feature
 * space — its default path works on penultimate features only: class prototypes = mean train feature
 * per label; a noise prototype (from OOD val features by default); for each sample the gradient of the
 * NCC cross-entropy (targets = the classifier's prediction) w.r.t. the noise prototype; train samples
 * the classifier gets right form a gradient bank; conf = −(squared L2 distance of the sample's gradient
 * to the nearest bank gradient); pred = the NCC prediction (nearest class prototype), as OpenOOD returns.
 * Differences: exact nearest-neighbour search (OpenOOD: faiss IVF, nlist 4√(samples), nprobe 4); the
 * train subset is a seeded random ⌈ratio·N⌉ (OpenOOD: the first batches of its shuffled loader), the
 * noise prototype the first n OOD val samples (OpenOOD: whole batches until ≥ n); hyperparameters are
 * re-derived on change (OpenOOD's set_hyperparam does not re-run setup); no uniform-noise or synthetic
 * prototype (they need the network); the mixup arguments (lam, pre_layer_indx, k) never reach
 * OpenOOD's score and are left out.
 */
export class GroodPostprocessor extends BasePostprocessor<typeof groodArgs> {
  readonly name = 'grood';
  override readonly requires: readonly SetupRole[];
  private train?: FeatureSplit;
  private oodVal?: FeatureSplit;
  private prototypes?: Tensor2D;
  private bank?: NeighbourBank;

  constructor(
    schema: typeof groodArgs,
    args: GroodArgs,
    private readonly rng: Rng,
  ) {
    super(schema, args);
    this.requires = args.noise === 'ood_val' ? ['train', 'ood_val'] : ['train'];
  }

  /** Gradients in the bank (correctly classified train samples of the subset). */
  get bankSize(): number {
    return this.bank?.count ?? 0;
  }

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    this.train = requireSplit(data, 'train', this.name, this.head.featureDim);
    this.oodVal = data.ood_val && data.ood_val.count > 0 ? requireSplit(data, 'ood_val', this.name, this.head.featureDim) : undefined;
  }

  protected override async derive(): Promise<void> {
    this.releaseBank();
    const train = this.train!;
    const { dim: d } = train;
    const c = this.head.numClasses;
    const m = Math.ceil(this.args.sampling_ratio * train.count);
    // one permutation for every ratio: smaller subsets are prefixes of larger ones
    const subset = this.rng.derive('subset').permutation(train.count).subarray(0, m);
    const protos = new Float64Array((c + 1) * d);
    const counts = new Float64Array(c);
    for (const i of subset) {
      const y = train.labels[i]!;
      if (y < 0 || y >= c) throw new DataError(`grood: train label ${y} of sample ${i} is not an ID class in [0, ${c})`);
      counts[y]!++;
      for (let j = 0; j < d; j++) protos[y * d + j]! += train.features[i * d + j]!;
    }
    // a class absent from the subset keeps a zero prototype, as OpenOOD's running means start at zero
    for (let k = 0; k < c; k++) if (counts[k]! > 0) for (let j = 0; j < d; j++) protos[k * d + j]! /= counts[k]!;
    this.noisePrototype(protos, c, d);
    const rows = new Float32Array(m * d);
    subset.forEach((src, i) => rows.set(train.features.subarray(src * d, (src + 1) * d), i * d));
    const logits = hostLogits(this.head, rows, m);
    const correct: number[] = [];
    for (let i = 0; i < m; i++) {
      let best = 0;
      for (let k = 1; k < c; k++) if (logits[i * c + k]! > logits[i * c + best]!) best = k;
      if (best === train.labels[subset[i]!]) correct.push(i);
    }
    if (correct.length === 0)
      throw new DataError('grood: no train sample of the subset is classified correctly; the gradient bank would be empty');
    this.prototypes = tf.tensor2d(Float32Array.from(protos), [c + 1, d], 'float32');
    const grads = tf.tidy(() => noiseGradients(tf.gather(tf.tensor2d(rows, [m, d], 'float32'), correct), this.prototypes!));
    try {
      this.bank = new NeighbourBank(grads, 'neg_squared_l2');
    } finally {
      grads.dispose();
    }
  }

  /** Writes the noise prototype into row C of `protos`. */
  private noisePrototype(protos: Float64Array, c: number, d: number): void {
    const out = c * d;
    if (this.args.noise === 'prototype_mean') {
      for (let k = 0; k < c; k++) for (let j = 0; j < d; j++) protos[out + j]! += protos[k * d + j]! / c;
    } else if (this.args.noise === 'ood_val') {
      const ood = this.oodVal;
      if (!ood) throw new UsageError("grood with noise 'ood_val' needs the OOD validation split (an 'ood_val' entry in the split map)");
      const n = Math.min(this.args.n_noise_samples, ood.count);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) protos[out + j]! += ood.features[i * d + j]! / n;
    }
  }

  private releaseBank(): void {
    this.bank?.dispose();
    this.prototypes?.dispose();
    this.bank = undefined;
    this.prototypes = undefined;
  }

  protected override releaseState(): void {
    this.releaseBank();
    this.train = undefined;
    this.oodVal = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const c = this.head.numClasses;
    const pred = tf.tidy(() => tf.argMax(nccScores(z, this.prototypes!).slice([0, 0], [z.shape[0], c]), 1) as Tensor1D);
    const conf = tf.tidy(() => this.bank!.topK(noiseGradients(z, this.prototypes!), 1).reshape([z.shape[0]]) as Tensor1D);
    return toScoreResult(pred, conf);
  }
}

export const groodDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'grood',
  description: 'GrOOD: distance of the NCC-loss gradient w.r.t. a noise prototype to the nearest train gradient',
  args: groodArgs,
  grid: { n_noise_samples: [10, 100, 1000], sampling_ratio: [0.01, 0.1, 0.25, 0.5, 0.7, 1.0], noise: ['ood_val', 'zero'] },
  create: (args, ctx) => new GroodPostprocessor(groodArgs, args, ctx.rng),
});
