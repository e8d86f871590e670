import type { tf } from '@oodkit/compute';
import type { FinalLayer } from '@oodkit/core';

/** Logits [N, C] and penultimate features [N, D] of one batch, row-major on the host. */
export interface InferenceOutput {
  readonly logits: Float32Array;
  readonly features: Float32Array;
}

/**
 * A model oodkit can only run forward (no gradients, no blocks): an ONNX model. Feature extraction
 * and every feature-based postprocessor work on it through its final layer.
 */
export interface InferenceModel {
  readonly name: string;
  /** [height, width, channels] of oodkit's NHWC input. */
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly featureDim: number;
  /** Logits and features of an NHWC batch; `x` stays the caller's. */
  infer(x: tf.Tensor4D): Promise<InferenceOutput>;
  /** Host copy of W [C, D] and b [C]. */
  finalLayer(): FinalLayer;
  dispose(): Promise<void> | void;
}

/** True for an {@link InferenceModel} (as opposed to a `Classifier`, which has `forwardFeatures`). */
export function isInferenceModel(model: object): model is InferenceModel {
  return typeof (model as Partial<InferenceModel>).infer === 'function' && !('forwardFeatures' in model);
}
