import { tf } from '@oodkit/compute';
import type { Classifier, ImageDataset } from '@oodkit/core';
import type { Preprocessor } from '@oodkit/data';
import { frechetDistance, gaussianMoments } from '@oodkit/evaluators';
import { datasetBatches } from '../features/extract.js';

/**
 * How good one synthetic ID set is, judged by a classifier trained on real data only (independent of
 * the generator): how often it recognises the class a sample was generated for, per class, and the
 * Fréchet distance between its penultimate features of the real test set and of the samples (the FID
 * recipe with this classifier in place of Inception).
 */
export interface GeneratorQuality {
  /** Generator name (or `files` for a user's .npy pair). */
  readonly generator: string;
  /** SIO variants that train on this set. */
  readonly variants: readonly string[];
  readonly samples: number;
  /** Accuracy (%) of the judge on the synthetic samples, all and per class (NaN for a class with none). */
  readonly sampleAccuracy: number;
  readonly sampleAccuracyPerClass: readonly number[];
  /** The judge's accuracy (%) on the real ID test set, for scale. */
  readonly realAccuracy: number;
  readonly realAccuracyPerClass: readonly number[];
  /** Fréchet distance between the judge's features of the real ID test set and of the samples. */
  readonly frechet: number;
  /**
   * Fréchet distance between two real sets (ID val vs ID test) of the same judge: what two samples of
   * the real distribution score, the floor `frechet` should be read against.
   */
  readonly frechetRealFloor: number;
  /** The judge: trainer, seed and checkpoint it was scored with. */
  readonly judge: { readonly trainer: string; readonly seed: number; readonly checkpoint: string };
}

export const GENERATOR_QUALITY_FORMAT = 1;

interface Pass {
  readonly features: Float64Array;
  readonly predictions: Int32Array;
  readonly labels: Int32Array;
}

async function judgePass(network: Classifier, dataset: ImageDataset, chain: readonly Preprocessor[]): Promise<Pass> {
  const dim = network.featureDim;
  const features = new Float64Array(dataset.length * dim);
  const predictions = new Int32Array(dataset.length);
  const labels = new Int32Array(dataset.length);
  let offset = 0;
  for await (const batch of datasetBatches(dataset, chain, 500)) {
    try {
      const [z, pred] = tf.tidy(() => {
        const out = network.forwardFeatures(batch.x, false);
        return [out.features, out.logits.argMax(1)];
      });
      features.set((await z!.data()) as Float32Array, offset * dim);
      predictions.set((await pred!.data()) as Int32Array, offset);
      z!.dispose();
      pred!.dispose();
      labels.set(
        batch.indices.map((i) => dataset.labels[i]!),
        offset,
      );
      offset += batch.indices.length;
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  return { features, predictions, labels };
}

/** Accuracy (%) overall and per class 0..numClasses−1 (NaN where a class has no sample). */
export function perClassAccuracy(
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
): { overall: number; perClass: number[] } {
  const hit = new Array<number>(numClasses).fill(0);
  const count = new Array<number>(numClasses).fill(0);
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    count[y]!++;
    if (predictions[i] === y) {
      hit[y]!++;
      hits++;
    }
  }
  return {
    overall: labels.length === 0 ? Number.NaN : (100 * hits) / labels.length,
    perClass: hit.map((h, c) => (count[c] === 0 ? Number.NaN : (100 * h) / count[c]!)),
  };
}

export async function measureGeneratorQuality(options: {
  readonly network: Classifier;
  readonly synthetic: ImageDataset;
  readonly realTest: ImageDataset;
  readonly realVal: ImageDataset;
  readonly chain: readonly Preprocessor[];
  readonly generator: string;
  readonly variants: readonly string[];
  readonly judge: GeneratorQuality['judge'];
}): Promise<GeneratorQuality> {
  const { network, chain } = options;
  const numClasses = network.numClasses;
  const dim = network.featureDim;
  const synthetic = await judgePass(network, options.synthetic, chain);
  const test = await judgePass(network, options.realTest, chain);
  const val = await judgePass(network, options.realVal, chain);
  const onSamples = perClassAccuracy(synthetic.predictions, synthetic.labels, numClasses);
  const onReal = perClassAccuracy(test.predictions, test.labels, numClasses);
  const moments = (p: Pass) => gaussianMoments(p.features, p.labels.length, dim);
  const testMoments = moments(test);
  return {
    generator: options.generator,
    variants: options.variants,
    samples: options.synthetic.length,
    sampleAccuracy: onSamples.overall,
    sampleAccuracyPerClass: onSamples.perClass,
    realAccuracy: onReal.overall,
    realAccuracyPerClass: onReal.perClass,
    frechet: frechetDistance(testMoments, moments(synthetic)),
    frechetRealFloor: frechetDistance(testMoments, moments(val)),
    judge: options.judge,
  };
}
