import type { Tensor1D, Tensor4D } from '@tensorflow/tfjs-core';

/**
 * A random-access set of labelled images. Pixels stay uint8 HWC until a loader batches them, so a
 * 60k-image set costs its bytes, not JS numbers. Owner: libs/data.
 */
export interface ImageDataset {
  readonly name: string;
  readonly length: number;
  /** [height, width, channels] of every image. */
  readonly imageShape: readonly [number, number, number];
  /** Number of ID classes; labels are in [0, numClasses) or -1 for OOD samples. */
  readonly numClasses: number;
  /** Label of every sample, in index order (-1 = OOD). */
  readonly labels: Int32Array;
  /** uint8 HWC pixels of `indices`, concatenated in the given order. */
  readImages(indices: ArrayLike<number>): Promise<Uint8Array>;
}

/** One batch as trainers and evaluators consume it: preprocessed float32 NHWC and int32 labels. */
export interface Batch {
  readonly x: Tensor4D;
  readonly y: Tensor1D;
  /** Dataset index of each sample (for SIO: indices >= realCount are synthetic). */
  readonly indices: Int32Array;
}
