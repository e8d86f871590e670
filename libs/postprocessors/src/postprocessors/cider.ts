import { tf } from '@oodkit/compute';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { definePostprocessor } from '../lifecycle/index.js';
import { knnArgs, KnnPostprocessor } from './knn.js';

/** CIDER's args are knn's: the rank K of the neighbour whose distance is the score. */
export const ciderArgs = knnArgs;

/**
 * CIDER's score (Ming et al., ICLR 2023; OpenOOD's CIDERPostprocessor): KNN on the L2-normalised
 * penultimate feature z of the network (OpenOOD's `intermediate_forward`, not the projection):
 * conf = −(squared L2 distance to the K-th nearest normalised train feature), faiss IndexFlatL2's
 * squared distances, exact here — knn's search, inherited. CIDER trains no classifier, so OpenOOD
 * returns a dummy pred of 0 for every sample; so does this (the classifier's ACC is reported separately).
 */
export class CiderPostprocessor extends KnnPostprocessor<typeof ciderArgs> {
  override readonly name: string = 'cider';

  protected override predict(z: Tensor2D): Tensor1D {
    return tf.zeros([z.shape[0]], 'int32') as Tensor1D;
  }
}

export const ciderDefinition = definePostprocessor(
  {
    name: 'cider',
    description: 'CIDER: negative squared distance to the K-th nearest normalised train feature z; pred 0 (CIDER trains no classifier)',
    args: ciderArgs,
    grid: { K: [50, 100, 200, 500, 1000] },
  },
  CiderPostprocessor,
);
