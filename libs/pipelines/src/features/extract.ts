import { tf } from '@oodkit/compute';
import { PENULTIMATE_LAYER, type Batch, type Classifier, type ImageDataset, type LayerFeatures } from '@oodkit/core';
import { checkFeatureLayers, pooledFeatureLayers } from '@oodkit/postprocessors';
import { orderedBatches, type LoadedBenchmark, type Preprocessor } from '@oodkit/data';
import { finalLayerOf, writeFeatureFolder, type FeatureFolderContent, type FeatureSplitsInput } from '@oodkit/evaluators';

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
 * Penultimate features of a whole dataset (index order) through the test-time chain, and the
 * globally average-pooled features of the extra `layers` (from the same forward pass).
 */
export async function datasetFeatures(
  network: Classifier,
  dataset: ImageDataset,
  chain: readonly Preprocessor[],
  batchSize: number,
  labelOverride?: number,
  onBatch?: (done: number, total: number) => void,
  layers: readonly string[] = [],
): Promise<{ features: Float32Array; labels: Int32Array; layers: Record<string, LayerFeatures> }> {
  const dim = network.featureDim;
  const features = new Float32Array(dataset.length * dim);
  const labels = new Int32Array(dataset.length);
  const extra = layers.filter((l) => l !== PENULTIMATE_LAYER);
  checkFeatureLayers(network, extra);
  const pooled: Record<string, { dim: number; features: Float32Array }> = {};
  let offset = 0;
  for await (const batch of datasetBatches(dataset, chain, batchSize, labelOverride)) {
    try {
      if (extra.length === 0) {
        const z = tf.tidy(() => network.forwardFeatures(batch.x, false).features);
        features.set((await z.data()) as Float32Array, offset * dim);
        z.dispose();
      } else {
        const out = pooledFeatureLayers(network, batch.x, extra);
        try {
          features.set((await out.features.data()) as Float32Array, offset * dim);
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
  return { features, labels, layers: pooled };
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
  network: Classifier,
  bench: LoadedBenchmark,
  out: string,
  options: {
    batchSize?: number;
    onProgress?: (p: FeatureExtractionProgress) => void;
    /** Extra layers to write pooled (block names of the network; 'penultimate' is always written). */
    layers?: readonly string[];
  } = {},
): Promise<{ splits: { name: string; count: number }[]; layers: string[] }> {
  const batchSize = options.batchSize ?? 1000;
  const extra = [...new Set((options.layers ?? []).filter((l) => l !== PENULTIMATE_LAYER))];
  checkFeatureLayers(network, extra);
  const splits: FeatureFolderContent['splits'][number][] = [];
  const dims: Record<string, number> = {};
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
    for (const [layer, values] of Object.entries(layers)) dims[layer] = values.dim;
    splits.push({ name, features, labels, ...(extra.length > 0 ? { layers } : {}) });
  }
  await writeFeatureFolder(out, {
    finalLayer: finalLayerOf(network),
    splits,
    roles: benchmarkRoles(bench),
    ...(extra.length > 0 ? { layers: dims } : {}),
  });
  return { splits: splits.map((s) => ({ name: s.name, count: s.labels.length })), layers: [PENULTIMATE_LAYER, ...extra] };
}
