import type { Tensor1D, Tensor2D, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import type { RngState } from '../rng/rng.js';

/**
 * The network protocol of OpenOOD, in TypeScript. Every method returns new tensors that the caller
 * owns (call inside tf.tidy). Owner: libs/networks.
 */
export interface Classifier {
  readonly name: string;
  /** [height, width, channels] of the input. */
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Dimension D of the penultimate feature z. */
  readonly featureDim: number;

  /** Logits [N, C]. `training` switches batch-norm statistics and dropout. */
  forward(x: Tensor4D, training?: boolean): Tensor2D;
  /** Logits and the penultimate (pooled) feature z [N, D]. */
  forwardFeatures(x: Tensor4D, training?: boolean): { logits: Tensor2D; features: Tensor2D };
  /**
   * Names of the blocks `forwardBlocks` returns, in order (OpenOOD's `return_feature_list` without the
   * trailing z, which is the layer 'penultimate'). Absent on networks that expose no blocks by name.
   */
  readonly blockNames?: readonly string[];
  /** Logits, z, and the output of every block (for multi-layer methods). */
  forwardBlocks(x: Tensor4D): { logits: Tensor2D; features: Tensor2D; blocks: Tensor4D[] };
  /**
   * Unpooled output of residual stage `stage` (1-based; OpenOOD's `intermediate_forward(x, layer_index)`),
   * in inference mode. Optional: architectures without stages (LeNet) omit it and the methods that edit
   * a stage's map (RankFeat) refuse them by name.
   */
  stageOutput?(x: Tensor4D, stage: number): Tensor4D;
  /** Logits when the forward continues from `h`, a (possibly edited) output of stage `stage`. Present with `stageOutput`. */
  forwardFromStage?(stage: number, h: Tensor4D): Tensor2D;
  /** Logits after clipping z at `threshold` (ReAct). */
  forwardThreshold(x: Tensor4D, threshold: number): Tensor2D;
  /** Logits from penultimate features: z·Wᵀ + b. */
  head(features: Tensor2D): Tensor2D;
  /** The final layer: weight W [C, D] and bias b [C] (copies owned by the caller). */
  finalLayer(): { weight: Tensor2D; bias: Tensor1D };

  /** Variables the optimiser updates. */
  trainableVariables(): Variable[];
  /** Every persistent variable by a stable name (trainable and running statistics), for checkpoints. */
  namedVariables(): ReadonlyMap<string, Variable>;
  /** Random stream of train-time stochastic layers (dropout), for checkpoints; absent when the net has none. */
  getRandomState?(): RngState;
  setRandomState?(state: RngState): void;
  dispose(): void;
}

/** The name of z, the input of the final layer, among a network's feature layers. */
export const PENULTIMATE_LAYER = 'penultimate';

/** Feature layers of a network: its named blocks, then 'penultimate' (OpenOOD's `return_feature_list` order). */
export function featureLayersOf(network: Pick<Classifier, 'blockNames'>): string[] {
  return [...(network.blockNames ?? []), PENULTIMATE_LAYER];
}
