import { tf } from '@oodkit/compute';
import type { Classifier } from '@oodkit/core';
export { PENULTIMATE_LAYER, featureLayersOf } from '@oodkit/core';
import { UsageError } from '@oodkit/core';
import { ParameterStore, type TorchStateEntry } from '../layers/params.js';
import { linear, type Linear } from '../layers/ops.js';

/** What a concrete architecture computes before its final linear layer. */
export interface TrunkOutput {
  /** Outputs of the blocks, in order (the last one is the pooled feature as [N, 1, 1, D]). */
  readonly blocks: tf.Tensor4D[];
  /** Penultimate feature z [N, D], the input of the final layer. */
  readonly features: tf.Tensor2D;
}

/**
 * The Classifier protocol on top of a trunk and a final linear layer. Every public method runs in
 * its own tf.tidy and returns only the tensors the caller owns.
 */
export abstract class TrunkClassifier implements Classifier {
  abstract readonly name: string;
  abstract readonly inputShape: readonly [number, number, number];
  abstract readonly numClasses: number;
  abstract readonly featureDim: number;
  /** Names of `TrunkOutput.blocks`, in order; the feature layers are these and 'penultimate'. */
  abstract readonly blockNames: readonly string[];
  protected abstract readonly fc: Linear;
  private disposed = false;

  constructor(protected readonly store: ParameterStore) {}

  /** The architecture up to (excluding) the final linear layer. */
  protected abstract trunk(x: tf.Tensor4D, training: boolean): TrunkOutput;

  /** Hook for train-time regularisation applied to z before the head (dropout). */
  protected regularizeFeatures(features: tf.Tensor2D, _training: boolean): tf.Tensor2D {
    return features;
  }

  protected checkInput(x: tf.Tensor4D): void {
    if (this.disposed) throw new UsageError(`network '${this.name}' was disposed`);
    const [h, w, c] = this.inputShape;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new UsageError(`network '${this.name}' expects input [N, ${h}, ${w}, ${c}] (NHWC), got [${x.shape.join(', ')}]`);
    }
  }

  forward(x: tf.Tensor4D, training = false): tf.Tensor2D {
    this.checkInput(x);
    return tf.tidy(() => this.head(this.regularizeFeatures(this.trunk(x, training).features, training)));
  }

  /**
   * In training mode z is returned after the train-time regularisation (dropout), as the reference's
   * in-place dropout does, so head(features) equals logits in both modes.
   */
  forwardFeatures(x: tf.Tensor4D, training = false): { logits: tf.Tensor2D; features: tf.Tensor2D } {
    this.checkInput(x);
    return tf.tidy(() => {
      const features = this.regularizeFeatures(this.trunk(x, training).features, training);
      return { logits: this.head(features), features };
    });
  }

  forwardBlocks(x: tf.Tensor4D): { logits: tf.Tensor2D; features: tf.Tensor2D; blocks: tf.Tensor4D[] } {
    this.checkInput(x);
    return tf.tidy(() => {
      const out = this.trunk(x, false);
      return { logits: this.head(out.features), features: out.features, blocks: out.blocks };
    });
  }

  forwardThreshold(x: tf.Tensor4D, threshold: number): tf.Tensor2D {
    this.checkInput(x);
    return tf.tidy(() => this.head(tf.minimum(this.trunk(x, false).features, threshold)));
  }

  head(features: tf.Tensor2D): tf.Tensor2D {
    if (features.rank !== 2 || features.shape[1] !== this.featureDim) {
      throw new UsageError(`network '${this.name}': head expects features [N, ${this.featureDim}], got [${features.shape.join(', ')}]`);
    }
    return tf.tidy(() => linear(features, this.fc));
  }

  finalLayer(): { weight: tf.Tensor2D; bias: tf.Tensor1D } {
    return { weight: tf.clone(this.fc.weight) as tf.Tensor2D, bias: tf.clone(this.fc.bias) as tf.Tensor1D };
  }

  trainableVariables(): tf.Variable[] {
    return this.store.trainables;
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    return this.store.named;
  }

  /** The PyTorch state_dict this network corresponds to (OpenOOD's / torchvision's names), in order. */
  torchState(): readonly TorchStateEntry[] {
    return this.store.torchState;
  }

  dispose(): void {
    this.disposed = true;
    this.store.dispose();
  }
}
