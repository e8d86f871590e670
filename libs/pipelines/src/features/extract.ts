import { tf } from '@oodkit/compute';
import {
  PENULTIMATE_LAYER,
  UsageError,
  type Batch,
  type Classifier,
  type FinalLayer,
  type ImageDataset,
  type LayerFeatures,
} from '@oodkit/core';
import { checkFeatureLayers, pooledFeatureLayers } from '@oodkit/postprocessors';
import { orderedBatches, type LoadedBenchmark, type Preprocessor } from '@oodkit/data';
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
 * batches of `batchSize`, and the globally average-pooled features of the extra `layers` (from the
 * same forward pass): the one extraction loop for checkpoints, tfjs and ONNX models.
 */
export async function datasetOutputs(
  model: FeatureModel,
  dataset: ImageDataset,
  chain: readonly Preprocessor[],
  batchSize: number,
  labelOverride?: number,
  onBatch?: (done: number, total: number) => void,
  layers: readonly string[] = [],
): Promise<{ logits: Float32Array; features: Float32Array; labels: Int32Array; layers: Record<string, LayerFeatures> }> {
  const dim = model.featureDim;
  const classes = model.numClasses;
  const features = new Float32Array(dataset.length * dim);
  const logits = new Float32Array(dataset.length * classes);
  const labels = new Int32Array(dataset.length);
  const extra = layers.filter((l) => l !== PENULTIMATE_LAYER);
  checkModelLayers(model, extra);
  const pooled: Record<string, LayerFeatures & { features: Float32Array }> = {};
  let offset = 0;
  for await (const batch of datasetBatches(dataset, chain, batchSize, labelOverride)) {
    try {
      if (extra.length === 0 || isInferenceModel(model)) {
        const out = await batchOutputs(model, batch.x);
        features.set(out.features, offset * dim);
        logits.set(out.logits, offset * classes);
      } else {
        const out = pooledFeatureLayers(model, batch.x, extra);
        try {
          features.set((await out.features.data()) as Float32Array, offset * dim);
          logits.set((await out.logits.data()) as Float32Array, offset * classes);
          for (const layer of extra) {
            const t = out.layers[layer]!;
            const d = t.shape[1];
            pooled[layer] ??= { dim: d, features: new Float32Array(dataset.length * d) };
            pooled[layer].features.set((await t.data()) as Float32Array, offset * d);
          }
        } finally {
          tf.dispose([out.logits, out.features, ...Object.values(out.layers)]);
        }
      }
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
  return { logits, features, labels, layers: pooled };
}

/**
 * The extra feature layers checked against the model: a network names its blocks (`oodkit list
 * network`); an inference-only model (ONNX) gives logits and penultimate features only.
 */
export function checkModelLayers(model: FeatureModel, extra: readonly string[]): void {
  if (extra.length === 0) return;
  if (isInferenceModel(model))
    throw new UsageError(
      `model '${model.name}' gives only logits and penultimate features; feature layers ${extra.map((l) => `'${l}'`).join(', ')} ` +
        'need a network with named blocks (an oodkit checkpoint)',
    );
  checkFeatureLayers(model, extra);
}

/** Penultimate features (and the extra pooled `layers`) of a whole dataset (index order) through the test-time chain. */
export async function datasetFeatures(
  network: FeatureModel,
  dataset: ImageDataset,
  chain: readonly Preprocessor[],
  batchSize: number,
  labelOverride?: number,
  onBatch?: (done: number, total: number) => void,
  layers: readonly string[] = [],
): Promise<{ features: Float32Array; labels: Int32Array; layers: Record<string, LayerFeatures> }> {
  const out = await datasetOutputs(network, dataset, chain, batchSize, labelOverride, onBatch, layers);
  return { features: out.features, labels: out.labels, layers: out.layers };
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

export interface BenchmarkFeatureOptions {
  batchSize?: number;
  onProgress?: (p: FeatureExtractionProgress) => void;
  /** Extra layers to extract pooled (block names of the network; 'penultimate' is always there). */
  layers?: readonly string[];
}

/**
 * Every split of a benchmark through a trained network into a feature folder (fc_weight.npy,
 * fc_bias.npy, <split>_features.npy, <split>_labels.npy, splits.yml, and layers.yml +
 * layers/<layer>/<split>_features.npy for extra layers): what `oodkit feat-extract` and the
 * benchmark pipeline write.
 */
export async function writeBenchmarkFeatures(
  network: FeatureModel,
  bench: LoadedBenchmark,
  out: string,
  options: BenchmarkFeatureOptions = {},
): Promise<{ splits: { name: string; count: number }[]; layers: string[] }> {
  const extra = [...new Set((options.layers ?? []).filter((l) => l !== PENULTIMATE_LAYER))];
  const splits = await benchmarkFeatureSplits(network, bench, { ...options, layers: extra });
  const dims: Record<string, number> = {};
  for (const split of splits) for (const [layer, values] of Object.entries(split.layers ?? {})) dims[layer] = values.dim;
  await writeFeatureFolder(out, {
    finalLayer: finalLayerOfModel(network),
    splits,
    roles: benchmarkRoles(bench),
    ...(extra.length > 0 ? { layers: dims } : {}),
  });
  return { splits: splits.map((s) => ({ name: s.name, count: s.labels.length })), layers: [PENULTIMATE_LAYER, ...extra] };
}

/** Features and labels (and the extra pooled layers) of every split of a benchmark, in the feature folder's split names. */
export async function benchmarkFeatureSplits(
  network: FeatureModel,
  bench: LoadedBenchmark,
  options: BenchmarkFeatureOptions = {},
): Promise<FeatureFolderContent['splits'][number][]> {
  const batchSize = options.batchSize ?? 1000;
  const extra = [...new Set((options.layers ?? []).filter((l) => l !== PENULTIMATE_LAYER))];
  checkModelLayers(network, extra);
  const splits: FeatureFolderContent['splits'][number][] = [];
  for (const { name, dataset, ood } of benchmarkSplits(bench)) {
    const { features, labels, layers } = await datasetFeatures(
      network,
      dataset,
      bench.preprocess.test,
      batchSize,
      ood ? -1 : undefined,
      (done, total) => options.onProgress?.({ split: name, done, total }),
      extra,
    );
    splits.push({ name, features, labels, ...(extra.length > 0 ? { layers } : {}) });
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
