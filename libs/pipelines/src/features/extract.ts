import { tf } from '@oodkit/compute';
import type { Batch, Classifier, ImageDataset } from '@oodkit/core';
import { orderedBatches, type LoadedBenchmark, type Preprocessor } from '@oodkit/data';
import type { FinalLayer } from '@oodkit/core';
import {
  InMemoryFeatureSource,
  finalLayerOf,
  featureSplitsSchema,
  writeFeatureFolder,
  type FeatureFolderContent,
  type FeatureSplitsInput,
} from '@oodkit/evaluators';
import { isInferenceModel, type InferenceModel, type InferenceOutput } from '@oodkit/networks';

/** A model features can be extracted from: a Classifier (tf tensors) or an inference-only model (ONNX). */
export type FeatureModel = Classifier | InferenceModel;

/** Logits and features of one NHWC batch on the host, whichever kind of model. */
export async function batchOutputs(model: FeatureModel, x: tf.Tensor4D): Promise<InferenceOutput> {
  if (isInferenceModel(model)) return model.infer(x);
  const out = tf.tidy(() => model.forwardFeatures(x, false));
  try {
    const [logits, features] = await Promise.all([out.logits.data(), out.features.data()]);
    return { logits: logits as Float32Array, features: features as Float32Array };
  } finally {
    out.logits.dispose();
    out.features.dispose();
  }
}

/** Host copy of the final layer of either kind of model. */
export function finalLayerOfModel(model: FeatureModel): FinalLayer {
  return isInferenceModel(model) ? model.finalLayer() : finalLayerOf(model);
}

/**
 * Preprocessed batches of `dataset` in index order through a test-time chain. Each batch's tensors
 * belong to the consumer (who disposes them). `labelOverride` relabels every sample (−1 for OOD).
 */
export function datasetBatches(
  dataset: ImageDataset,
  chain: readonly Preprocessor[],
  batchSize: number,
  labelOverride?: number,
): AsyncGenerator<Batch> {
  return orderedBatches(dataset, { batchSize, preprocess: chain, labelOverride });
}

/**
 * Logits and penultimate features of a whole dataset (index order) through the test-time chain, in
 * batches of `batchSize`: the one extraction loop for checkpoints, tfjs and ONNX models.
 */
export async function datasetOutputs(
  model: FeatureModel,
  dataset: ImageDataset,
  chain: readonly Preprocessor[],
  batchSize: number,
  labelOverride?: number,
  onBatch?: (done: number, total: number) => void,
): Promise<{ logits: Float32Array; features: Float32Array; labels: Int32Array }> {
  const dim = model.featureDim;
  const classes = model.numClasses;
  const features = new Float32Array(dataset.length * dim);
  const logits = new Float32Array(dataset.length * classes);
  const labels = new Int32Array(dataset.length);
  let offset = 0;
  for await (const batch of datasetBatches(dataset, chain, batchSize, labelOverride)) {
    try {
      const out = await batchOutputs(model, batch.x);
      features.set(out.features, offset * dim);
      logits.set(out.logits, offset * classes);
      labels.set(
        batch.indices.map((i) => labelOverride ?? dataset.labels[i]!),
        offset,
      );
      offset += batch.indices.length;
      onBatch?.(offset, dataset.length);
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  return { logits, features, labels };
}

/** Penultimate features of a whole dataset (index order) through the test-time chain. */
export async function datasetFeatures(
  network: FeatureModel,
  dataset: ImageDataset,
  chain: readonly Preprocessor[],
  batchSize: number,
  labelOverride?: number,
  onBatch?: (done: number, total: number) => void,
): Promise<{ features: Float32Array; labels: Int32Array }> {
  const { features, labels } = await datasetOutputs(network, dataset, chain, batchSize, labelOverride, onBatch);
  return { features, labels };
}

/** Split name → dataset and whether it is OOD, in the feature folder's conventional names. */
export function benchmarkSplits(bench: LoadedBenchmark): { name: string; dataset: ImageDataset; ood: boolean }[] {
  return [
    { name: 'train', dataset: bench.id.train, ood: false },
    { name: 'val', dataset: bench.id.val, ood: false },
    { name: 'test', dataset: bench.id.test, ood: false },
    { name: bench.ood.val.name, dataset: bench.ood.val.dataset, ood: true },
    ...bench.ood.near.map((s) => ({ name: s.name, dataset: s.dataset, ood: true })),
    ...bench.ood.far.map((s) => ({ name: s.name, dataset: s.dataset, ood: true })),
    ...bench.csid.map((s) => ({ name: s.name, dataset: s.dataset, ood: false })),
  ];
}

export function benchmarkRoles(bench: LoadedBenchmark): FeatureSplitsInput {
  return {
    train: 'train',
    val: 'val',
    test: 'test',
    ood_val: bench.ood.val.name,
    near: bench.ood.near.map((s) => s.name),
    far: bench.ood.far.map((s) => s.name),
    csid: bench.csid.map((s) => s.name),
  };
}

export interface FeatureExtractionProgress {
  readonly split: string;
  readonly done: number;
  readonly total: number;
}

/**
 * Every split of a benchmark through a trained network into a feature folder (fc_weight.npy,
 * fc_bias.npy, <split>_features.npy, <split>_labels.npy, splits.yml): what `oodkit feat-extract`
 * and the benchmark pipeline write.
 */
export async function writeBenchmarkFeatures(
  network: FeatureModel,
  bench: LoadedBenchmark,
  out: string,
  options: { batchSize?: number; onProgress?: (p: FeatureExtractionProgress) => void } = {},
): Promise<{ splits: { name: string; count: number }[] }> {
  const splits = await benchmarkFeatureSplits(network, bench, options);
  await writeFeatureFolder(out, { finalLayer: finalLayerOfModel(network), splits, roles: benchmarkRoles(bench) });
  return { splits: splits.map((s) => ({ name: s.name, count: s.labels.length })) };
}

/** Features and labels of every split of a benchmark, in the feature folder's split names. */
export async function benchmarkFeatureSplits(
  network: FeatureModel,
  bench: LoadedBenchmark,
  options: { batchSize?: number; onProgress?: (p: FeatureExtractionProgress) => void } = {},
): Promise<FeatureFolderContent['splits'][number][]> {
  const batchSize = options.batchSize ?? 1000;
  const splits: FeatureFolderContent['splits'][number][] = [];
  for (const { name, dataset, ood } of benchmarkSplits(bench)) {
    const { features, labels } = await datasetFeatures(
      network,
      dataset,
      bench.preprocess.test,
      batchSize,
      ood ? -1 : undefined,
      (done, total) => options.onProgress?.({ split: name, done, total }),
    );
    splits.push({ name, features, labels });
  }
  return splits;
}

/**
 * Every benchmark split of an inference-only model (ONNX) extracted once, as a feature source the
 * OOD evaluator scores every feature-based postprocessor on (network-based ones are refused).
 */
export async function inferenceFeatureSource(
  model: InferenceModel,
  bench: LoadedBenchmark,
  options: { batchSize?: number; onProgress?: (p: FeatureExtractionProgress) => void } = {},
): Promise<InMemoryFeatureSource> {
  const splits = await benchmarkFeatureSplits(model, bench, options);
  const dim = model.featureDim;
  const roles = featureSplitsSchema.parse(benchmarkRoles(bench));
  return new InMemoryFeatureSource(
    model.finalLayer(),
    splits.map((s) => ({ name: s.name, count: s.labels.length, dim, features: s.features, labels: s.labels })),
    roles,
  );
}
