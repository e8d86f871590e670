import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import type { Batch } from './dataset.js';
import type { Classifier } from './network.js';

/** Host copy of the final linear layer: W row-major [C, D], b [C]. */
export interface FinalLayer {
  readonly numClasses: number;
  readonly featureDim: number;
  readonly weight: Float32Array;
  readonly bias: Float32Array;
}

/**
 * What a postprocessor may look at. From a feature folder only `finalLayer` exists; from a trained
 * model `network` is there too (methods that perturb inputs, like ODIN, need it).
 */
export interface ScoringModel {
  readonly finalLayer: FinalLayer;
  readonly network?: Classifier;
  /**
   * A fresh pass over the preprocessed inputs of the split playing `role` (fixed order), present only
   * with `network`: methods that fit on intermediate blocks or input gradients of ID data (Gram,
   * AdaScale, NAC) read it in `setup`. The caller disposes each batch's tensors. Undefined when no split
   * plays the role.
   */
  readonly setupInputs?: (role: SetupRole) => Iterable<Batch> | AsyncIterable<Batch> | undefined;
  /**
   * Rebuild and load another trained checkpoint (the network its stored config names), for methods
   * that combine several (ensemble). Present where the source can load checkpoints (the pipelines);
   * the caller disposes the network.
   */
  readonly loadNetwork?: (path: string) => Promise<Classifier>;
}

/** Features of one split held on the host, row-major. Owner: libs/postprocessors. */
export interface FeatureSplit {
  readonly name: string;
  readonly count: number;
  readonly dim: number;
  /** z [count, dim]. */
  readonly features: Float32Array;
  /** Labels; -1 for OOD. */
  readonly labels: Int32Array;
  /** Pooled features of other layers by name ([count, dim] each), when a method asked for them. */
  readonly layers?: Readonly<Record<string, LayerFeatures>>;
}

/** One layer's pooled features of a split, row-major [count, dim]. */
export interface LayerFeatures {
  readonly dim: number;
  readonly features: Float32Array;
}

/**
 * Splits a postprocessor can fit on: ID train and val, and the OOD validation split (OpenOOD hands its
 * `ood_loader_dict['val']` to setup too; GrOOD builds its noise prototype from it).
 */
export type SetupRole = 'train' | 'val' | 'ood_val';

/** Data a postprocessor fits its state on; which parts are present depends on `requires`. */
export interface PostprocessorSetupData {
  readonly train?: FeatureSplit;
  readonly val?: FeatureSplit;
  readonly ood_val?: FeatureSplit;
}

/** A batch to score. `inputs` is present only when scoring through a network. */
export interface ScoreBatch {
  readonly features: Tensor2D;
  /**
   * The same rows as `features` on the host, where the source holds them there (feature folders,
   * in-memory splits): methods that compute off the tensor backend read them instead of downloading.
   */
  readonly hostFeatures?: Float32Array;
  /** Pooled features [N, dim] of the layers the method lists in `featureLayers`. */
  readonly layers?: Readonly<Record<string, Tensor2D>>;
  readonly inputs?: Tensor4D;
}

export interface ScoreResult {
  readonly pred: Int32Array;
  /** Higher = more in-distribution. */
  readonly conf: Float64Array;
}

export interface Postprocessor {
  readonly name: string;
  /** True when the method needs the network (input gradients, intermediate blocks). */
  readonly needsNetwork: boolean;
  /** What the method takes from the network when `needsNetwork` (e.g. 'input gradients'), for error messages. */
  readonly networkUse?: string;
  /** Splits `setup` needs. */
  readonly requires: readonly SetupRole[];
  /**
   * Feature layers besides z ('penultimate') the method reads: sources attach them to setup splits
   * (`FeatureSplit.layers`) and score batches (`ScoreBatch.layers`). Absent = none.
   */
  readonly featureLayers?: readonly string[];
  /**
   * Layers the setup splits must carry when they depend on the network (a method whose default
   * layers are "the first n of the network's list"); absent = `featureLayers`.
   */
  setupLayers?(model: ScoringModel): readonly string[];
  /** Fit state from ID data (no-op for stateless methods). */
  setup(model: ScoringModel, data: PostprocessorSetupData): Promise<void>;
  /** Change hyperparameters; fitted state that depends on them is re-derived before the next score. */
  setHyperparameters(values: Record<string, unknown>): Promise<void>;
  /** The current hyperparameter values. */
  hyperparameters(): Record<string, unknown>;
  score(batch: ScoreBatch): Promise<ScoreResult>;
  /**
   * The search grid adapted to the fitted model (e.g. GEN drops M > C, whose values duplicate M = C).
   * Optional: when absent, or before `setup`, the definition's grid applies unchanged.
   */
  searchGrid?(grid: Readonly<Record<string, readonly unknown[] | undefined>>): Record<string, readonly unknown[]>;
  /** Release tensors held by the fitted state (optional; methods without tensors omit it). */
  dispose?(): void;
}
