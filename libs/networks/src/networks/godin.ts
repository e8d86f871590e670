import { tf } from '@oodkit/compute';
import { defineComponent, UsageError, type Classifier, type Rng, type RngState } from '@oodkit/core';
import { z } from 'zod';
import { ParameterStore } from '../layers/params.js';
import { batchNorm, linear, makeBatchNorm, makeLinear, type BatchNorm, type Linear } from '../layers/ops.js';

/** How h(x) compares the feature with the class vectors (OpenOOD's `similarity_measure`). */
export const GODIN_SIMILARITIES = ['cosine', 'inner', 'euclid'] as const;
export type GodinSimilarity = (typeof GODIN_SIMILARITIES)[number];

export const godinNetArgs = z.strictObject({
  backbone: z
    .union([z.string().min(1), z.strictObject({ name: z.string().min(1), args: z.record(z.string(), z.unknown()).optional() })])
    .default({ name: 'lenet' })
    .describe('the feature extractor (any registered network; its final layer is not used)'),
  similarity: z.enum(GODIN_SIMILARITIES).default('cosine').describe('h(x): cosine, inner product or negative mean squared distance'),
});
export type GodinNetArgs = z.infer<typeof godinNetArgs>;

/** Parameter names of the h head, the ones G-ODIN trains without weight decay (OpenOOD: `h.h.weight`, `h.h.bias`). */
export const GODIN_H_PARAMETERS = ['h.h.weight', 'h.h.bias'] as const;

/** The two factors of G-ODIN's logits f(x) = h(x) / g(x) (a type alias, so tf.tidy can return it). */
export type DecomposedOutput = {
  /** h(x) [N, C], the class similarities (the numerators). */
  readonly numerators: tf.Tensor2D;
  /** g(x) [N, 1] = sigmoid(BN(w·z + b)), in (0, 1) (the denominators). */
  readonly denominators: tf.Tensor2D;
};

/** A network whose logits decompose as h/g (G-ODIN); the `godin` postprocessor and trainer need one. */
export interface DecomposedConfidenceNetwork extends Classifier {
  readonly similarity: GodinSimilarity;
  forwardDecomposed(x: tf.Tensor4D, training?: boolean): DecomposedOutput;
}

export function isDecomposedConfidenceNetwork(network: Classifier): network is DecomposedConfidenceNetwork {
  return typeof (network as Partial<DecomposedConfidenceNetwork>).forwardDecomposed === 'function';
}

/**
 * Row-wise x / (‖x‖₂ + 1e-4), OpenOOD's `norm` (the epsilon is added to the norm, not under the root).
 * The norm is √max(Σx², 1e-30): the same value to float precision, but at x = 0 (a ReLU feature with
 * every unit off) its gradient is 0 as PyTorch's, where tf.norm's would be NaN.
 */
export function rowNormalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.add(tf.sqrt(tf.maximum(tf.sum(tf.square(x), 1, true), 1e-30)), 1e-4)) as tf.Tensor2D);
}

/**
 * h(z) for weight W [C, D] (and bias b for `inner`):
 *   cosine: ẑ·Ŵᵀ with rows normalised as {@link rowNormalize};
 *   inner:  z·Wᵀ + b;
 *   euclid: −mean_d (z_d − W_cd)², the mean over the D feature dimensions.
 */
export function godinNumerators(
  z: tf.Tensor2D,
  weight: tf.Tensor2D,
  bias: tf.Tensor1D | undefined,
  similarity: GodinSimilarity,
): tf.Tensor2D {
  return tf.tidy(() => {
    if (similarity === 'cosine') return tf.matMul(rowNormalize(z), rowNormalize(weight), false, true);
    if (similarity === 'inner') return bias ? tf.add(tf.matMul(z, weight, false, true), bias) : tf.matMul(z, weight, false, true);
    // ‖z − w‖² = ‖z‖² − 2 z·w + ‖w‖², expanded so no [N, D, C] tensor is formed
    const d = z.shape[1];
    const zz = tf.sum(tf.square(z), 1, true);
    const ww = tf.sum(tf.square(weight), 1);
    const squared = tf.add(tf.sub(zz, tf.mul(tf.matMul(z, weight, false, true), 2)), ww);
    return tf.div(tf.neg(squared), d) as tf.Tensor2D;
  });
}

/** kaiming_normal_(mode='fan_in', nonlinearity='relu') on a [out, in] weight: N(0, 2/in), as OpenOOD initialises h. */
function kaimingNormalFanIn(shape: [number, number], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, Math.sqrt(2 / shape[1]), 'float32', seed);
}

/**
 * G-ODIN's decomposed-confidence network (Hsu et al., CVPR 2020; OpenOOD's GodinNet): a backbone's
 * penultimate feature z feeds two heads, h(z) (class similarities, {@link godinNumerators}) and
 * g(z) = sigmoid(BatchNorm1d(Linear(D, 1)(z))); the logits are h/g in training and in evaluation
 * (OpenOOD's `net(x)`); the backbone's own final layer is not used.
 *
 * `finalLayer()` is the linear map of z whose argmax equals h's (and whose softmax equals h's for
 * `inner`, and for `euclid`, whose −‖z‖²/D term is the same for every class): feature-folder methods
 * see h up to a per-sample positive factor (cosine: ‖z‖) or shift (euclid). `head(z)` is the true h/g.
 */
export class GodinNet implements DecomposedConfidenceNetwork {
  readonly name = 'godin_net';
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly featureDim: number;
  /** The backbone's blocks: forwardBlocks returns them. */
  readonly blockNames?: readonly string[];
  private readonly store: ParameterStore;
  private readonly h: { weight: tf.Variable; bias?: tf.Variable };
  private readonly gLinear: Linear;
  private readonly gNorm: BatchNorm;
  private readonly named = new Map<string, tf.Variable>();
  private disposed = false;
  readonly getRandomState?: () => RngState;
  readonly setRandomState?: (state: RngState) => void;

  constructor(
    readonly backbone: Classifier,
    readonly similarity: GodinSimilarity,
    rng: Rng,
  ) {
    this.inputShape = backbone.inputShape;
    this.numClasses = backbone.numClasses;
    this.featureDim = backbone.featureDim;
    this.blockNames = backbone.blockNames;
    const c = this.numClasses;
    const d = this.featureDim;
    this.store = new ParameterStore(rng);
    this.h = { weight: this.store.add('h.h.weight', kaimingNormalFanIn([c, d], this.store.seedFor('h.h.weight')), true) };
    if (similarity === 'inner') this.h.bias = this.store.add('h.h.bias', tf.zeros([c]), true);
    this.gLinear = makeLinear(this.store, 'g.0', d, 1);
    this.gNorm = makeBatchNorm(this.store, 'g.1', 1);
    // the backbone's dropout stream (if it has one) is the wrapper's, for checkpoints
    if (backbone.getRandomState && backbone.setRandomState) {
      this.getRandomState = () => backbone.getRandomState!();
      this.setRandomState = (state) => backbone.setRandomState!(state);
    }
    for (const [name, variable] of backbone.namedVariables()) this.named.set(`backbone.${name}`, variable);
    for (const [name, variable] of this.store.named) this.named.set(name, variable);
  }

  private check(x: tf.Tensor4D): void {
    if (this.disposed) throw new UsageError(`network '${this.name}' was disposed`);
    const [h, w, c] = this.inputShape;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new UsageError(`network '${this.name}' expects input [N, ${h}, ${w}, ${c}] (NHWC), got [${x.shape.join(', ')}]`);
    }
  }

  private checkFeatures(features: tf.Tensor2D): void {
    if (features.rank !== 2 || features.shape[1] !== this.featureDim) {
      throw new UsageError(`network '${this.name}': expects features [N, ${this.featureDim}], got [${features.shape.join(', ')}]`);
    }
  }

  /** h(z) and g(z); g's batch norm uses batch statistics (and updates its running ones) when training. */
  decompose(features: tf.Tensor2D, training = false): DecomposedOutput {
    this.checkFeatures(features);
    return tf.tidy(() => {
      const numerators = godinNumerators(features, this.h.weight as tf.Tensor2D, this.h.bias as tf.Tensor1D | undefined, this.similarity);
      const pre = tf.reshape(linear(features, this.gLinear), [-1, 1, 1, 1]) as tf.Tensor4D;
      const denominators = tf.sigmoid(tf.reshape(batchNorm1(pre, this.gNorm, training), [-1, 1])) as tf.Tensor2D;
      return { numerators, denominators };
    });
  }

  forwardDecomposed(x: tf.Tensor4D, training = false): DecomposedOutput {
    this.check(x);
    return tf.tidy(() => this.decompose(this.backbone.forwardFeatures(x, training).features, training));
  }

  forward(x: tf.Tensor4D, training = false): tf.Tensor2D {
    return tf.tidy(() => this.forwardFeatures(x, training).logits);
  }

  forwardFeatures(x: tf.Tensor4D, training = false): { logits: tf.Tensor2D; features: tf.Tensor2D } {
    this.check(x);
    return tf.tidy(() => {
      const features = this.backbone.forwardFeatures(x, training).features;
      const { numerators, denominators } = this.decompose(features, training);
      return { logits: tf.div(numerators, denominators) as tf.Tensor2D, features };
    });
  }

  forwardBlocks(x: tf.Tensor4D): { logits: tf.Tensor2D; features: tf.Tensor2D; blocks: tf.Tensor4D[] } {
    this.check(x);
    return tf.tidy(() => {
      const out = this.backbone.forwardBlocks(x);
      tf.dispose(out.logits);
      return { logits: this.head(out.features), features: out.features, blocks: out.blocks };
    });
  }

  /** h/g after clipping z at `threshold` (ReAct on the wrapper's feature). */
  forwardThreshold(x: tf.Tensor4D, threshold: number): tf.Tensor2D {
    this.check(x);
    return tf.tidy(() => this.head(tf.minimum(this.backbone.forwardFeatures(x, false).features, threshold)));
  }

  /** The logits h(z)/g(z) in evaluation mode. */
  head(features: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const { numerators, denominators } = this.decompose(features, false);
      return tf.div(numerators, denominators) as tf.Tensor2D;
    });
  }

  finalLayer(): { weight: tf.Tensor2D; bias: tf.Tensor1D } {
    return tf.tidy(() => {
      const w = this.h.weight as tf.Tensor2D;
      const c = this.numClasses;
      if (this.similarity === 'cosine') return { weight: rowNormalize(w), bias: tf.zeros([c]) as tf.Tensor1D };
      if (this.similarity === 'inner') return { weight: tf.clone(w), bias: tf.clone(this.h.bias!) as tf.Tensor1D };
      // −‖z − w‖²/D = (2w/D)·z − ‖w‖²/D − ‖z‖²/D; the last term is the same for every class
      const d = this.featureDim;
      return { weight: tf.mul(w, 2 / d) as tf.Tensor2D, bias: tf.div(tf.neg(tf.sum(tf.square(w), 1)), d) as tf.Tensor1D };
    });
  }

  trainableVariables(): tf.Variable[] {
    return [...this.backbone.trainableVariables(), ...this.store.trainables];
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    return this.named;
  }

  dispose(): void {
    this.disposed = true;
    this.store.dispose();
    this.backbone.dispose();
  }
}

/** BatchNorm1d(1) on [N, 1, 1, 1] through the shared 2-d batch norm (same statistics: one channel, N values). */
function batchNorm1(x: tf.Tensor4D, bn: BatchNorm, training: boolean): tf.Tensor4D {
  if (training && x.shape[0] < 2) {
    throw new UsageError('godin_net: g(x) has a batch norm, which needs more than one sample per training batch (as PyTorch)');
  }
  return batchNorm(x, bn, training);
}

export const godinNet = defineComponent({
  kind: 'network',
  name: 'godin_net',
  description: "G-ODIN's decomposed confidence h(x)/g(x) on a backbone's feature (cosine, inner or euclid h)",
  args: godinNetArgs,
  create: async (args, ctx) => {
    const backbone = await ctx.registry.build<Classifier>(
      'network',
      args.backbone,
      { logger: ctx.logger, config: ctx.config, rng: ctx.rng.derive('backbone') },
      'network.args.backbone',
    );
    if (isDecomposedConfidenceNetwork(backbone)) {
      backbone.dispose();
      throw new UsageError("godin_net: the backbone is already a godin_net (network.args.backbone names 'godin_net')");
    }
    return new GodinNet(backbone, args.similarity, ctx.rng.derive('heads'));
  },
});
