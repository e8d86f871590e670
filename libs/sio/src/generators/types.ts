import type { ImageDataset, Logger, Rng } from '@oodkit/core';

export interface GeneratorProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
}

/**
 * A class-conditional generative model (component kind `generator`): fitted on the ID training set,
 * then asked for images of given classes. Outputs uint8 HWC pixels in the real set's shape.
 */
export interface SyntheticGenerator {
  readonly name: string;
  /** Everything that changes what `fit` + `sample` produce (hyperparameters, seed): part of the cache key. */
  readonly settings: Readonly<Record<string, unknown>>;
  fit(data: ImageDataset, options: { logger: Logger; onProgress?: (p: GeneratorProgress) => void }): Promise<void>;
  /** uint8 pixels of one image per entry of `labels`, concatenated. */
  sample(labels: Int32Array, rng: Rng): Promise<Uint8Array>;
  dispose(): void;
}
