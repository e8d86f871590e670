import { tf } from '@oodkit/compute';
import { DataError, type FinalLayer } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';

/**
 * The final linear layer held as tensors, so feature-mode methods compute logits = z·Wᵀ + b on the
 * active backend. Owns its tensors: call `dispose` when the postprocessor is done with it.
 */
export class LinearHead {
  readonly numClasses: number;
  readonly featureDim: number;
  /** W [C, D]. */
  readonly weight: Tensor2D;
  /** Wᵀ [D, C], kept transposed once because every score multiplies by it. */
  readonly weightT: Tensor2D;
  readonly bias: Tensor1D;
  /** The same layer on the host, as `RowStatistics` takes a head (W [C, D] row-major, b [C]). */
  readonly host: { readonly weight: ArrayLike<number>; readonly bias: ArrayLike<number>; readonly classes: number };

  constructor(layer: FinalLayer) {
    const { numClasses: c, featureDim: d } = layer;
    if (layer.weight.length !== c * d) {
      throw new DataError(`final layer: weight has ${layer.weight.length} values, expected C·D = ${c}·${d} = ${c * d}`);
    }
    if (layer.bias.length !== c) throw new DataError(`final layer: bias has ${layer.bias.length} values, expected C = ${c}`);
    this.numClasses = c;
    this.featureDim = d;
    this.weight = tf.tensor2d(layer.weight, [c, d], 'float32');
    this.weightT = tf.tidy(() => this.weight.transpose());
    this.bias = tf.tensor1d(layer.bias, 'float32');
    this.host = { weight: layer.weight, bias: layer.bias, classes: c };
  }

  /** logits = z·Wᵀ + b [N, C]. */
  logits(features: Tensor2D): Tensor2D {
    this.checkFeatures(features);
    return tf.tidy(() => tf.add(tf.matMul(features, this.weightT), this.bias));
  }

  /** logits with a replacement weight (DICE's masked W), bias unchanged. */
  logitsWith(features: Tensor2D, weightT: Tensor2D): Tensor2D {
    this.checkFeatures(features);
    return tf.tidy(() => tf.add(tf.matMul(features, weightT), this.bias));
  }

  checkFeatures(features: Tensor2D): void {
    if (features.rank !== 2 || features.shape[1] !== this.featureDim) {
      throw new DataError(`features have shape [${features.shape.join(', ')}], expected [N, ${this.featureDim}] to match the final layer`);
    }
  }

  dispose(): void {
    this.weight.dispose();
    this.weightT.dispose();
    this.bias.dispose();
  }
}

/** Host logits for a whole split (setup-time statistics), float32 like the network computes them. */
export function hostLogits(head: LinearHead, features: Float32Array, count: number): Float32Array {
  const z = tf.tensor2d(features, [count, head.featureDim], 'float32');
  try {
    const logits = head.logits(z);
    try {
      return logits.dataSync() as Float32Array;
    } finally {
      logits.dispose();
    }
  } finally {
    z.dispose();
  }
}
