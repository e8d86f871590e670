import { tf } from '@oodkit/compute';
import {
  DataError,
  UsageError,
  type Batch,
  type Classifier,
  type FeatureSplit,
  type FinalLayer,
  PENULTIMATE_LAYER,
  type LayerFeatures,
  type Postprocessor,
  type ScoringModel,
  type SetupRole,
} from '@oodkit/core';
import { checkFeatureLayers, pooledFeatureLayers } from '@oodkit/postprocessors';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { isIdRole, type FeatureFolder, type FeatureSplits } from '../features/folder.js';

/** Scores of one split: `labels` are class indices for ID splits and −1 for OOD splits. */
export interface SplitScores {
  readonly name: string;
  readonly pred: Int32Array;
  readonly conf: Float64Array;
  readonly labels: Int32Array;
}

/**
 * Where the OOD evaluator gets data from: a feature folder (features + final layer only) or a
 * network with loaders (features extracted on the fly, inputs available for ODIN-like methods).
 */
export interface FeatureSource {
  /** What postprocessors see at setup: the final layer, and the network when there is one. */
  readonly model: ScoringModel;
  /** Which split plays which role. */
  readonly splits: FeatureSplits;
  /**
   * Features of the split playing `role` for postprocessor setup, with the extra `layers` attached
   * (`FeatureSplit.layers`); undefined when no split has the role.
   */
  setupSplit(role: SetupRole, layers?: readonly string[]): Promise<FeatureSplit | undefined>;
  /** Score every sample of split `name` with the postprocessor's current state. */
  scoreSplit(name: string, postprocessor: Postprocessor): Promise<SplitScores>;
  /**
   * The classifier's own predictions (argmax of its logits) on split `name`, whatever postprocessor
   * is evaluated: OpenOOD's ACC column is their accuracy on the ID test set.
   */
  classifierPredictions(name: string): Promise<Int32Array>;
}

function checkResult(postprocessor: Postprocessor, split: string, offset: number, n: number, pred: Int32Array, conf: Float64Array): void {
  if (pred.length !== n || conf.length !== n) {
    throw new DataError(
      `${postprocessor.name} returned ${conf.length} scores / ${pred.length} predictions for a batch of ${n} (split '${split}')`,
    );
  }
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(conf[i]!))
      throw new DataError(`${postprocessor.name} produced a NaN confidence for sample ${offset + i} of split '${split}'`);
  }
}

/** The extra layers a postprocessor reads ('penultimate' is z, always there). */
function extraLayers(postprocessor: Postprocessor): string[] {
  return (postprocessor.featureLayers ?? []).filter((l) => l !== PENULTIMATE_LAYER);
}

/**
 * Score host-held features in batches of `batchSize` rows (with the rows of the layers the method
 * reads, from `split.layers`); each batch tensor is disposed after scoring.
 */
export async function scoreFeatureSplit(postprocessor: Postprocessor, split: FeatureSplit, batchSize = 4096): Promise<SplitScores> {
  const pred = new Int32Array(split.count);
  const conf = new Float64Array(split.count);
  const wanted = extraLayers(postprocessor);
  for (const layer of wanted) {
    if (!split.layers?.[layer]) {
      throw new DataError(`${postprocessor.name} reads layer '${layer}', which split '${split.name}' does not carry`);
    }
  }
  for (let start = 0; start < split.count; start += batchSize) {
    const n = Math.min(batchSize, split.count - start);
    const hostFeatures = split.features.subarray(start * split.dim, (start + n) * split.dim);
    const features = tf.tensor2d(hostFeatures, [n, split.dim]);
    const layers: Record<string, Tensor2D> = {};
    for (const layer of wanted) {
      const { dim, features: values } = split.layers![layer]!;
      layers[layer] = tf.tensor2d(values.subarray(start * dim, (start + n) * dim), [n, dim]);
    }
    try {
      const result = await postprocessor.score(wanted.length > 0 ? { features, hostFeatures, layers } : { features, hostFeatures });
      checkResult(postprocessor, split.name, start, n, result.pred, result.conf);
      pred.set(result.pred, start);
      conf.set(result.conf, start);
    } finally {
      features.dispose();
      tf.dispose(Object.values(layers));
    }
  }
  return { name: split.name, pred, conf, labels: split.labels };
}

/** argmax of z·Wᵀ + b per row, on the active backend in float32 as the network's own head computes it. */
export function classifierPredictions(finalLayer: FinalLayer, split: FeatureSplit, batchSize = 4096): Int32Array {
  const { numClasses: c, featureDim: d } = finalLayer;
  if (split.dim !== d) throw new DataError(`split '${split.name}' has feature dim ${split.dim}, the final layer expects ${d}`);
  const pred = new Int32Array(split.count);
  const weight = tf.tensor2d(finalLayer.weight, [c, d], 'float32');
  const bias = tf.tensor1d(finalLayer.bias, 'float32');
  try {
    for (let start = 0; start < split.count; start += batchSize) {
      const n = Math.min(batchSize, split.count - start);
      const argmax = tf.tidy(() => {
        const z = tf.tensor2d(split.features.subarray(start * d, (start + n) * d), [n, d], 'float32');
        return tf.argMax(tf.add(tf.matMul(z, weight, false, true), bias), 1);
      });
      pred.set(argmax.dataSync() as Int32Array, start);
      argmax.dispose();
    }
  } finally {
    weight.dispose();
    bias.dispose();
  }
  return pred;
}

/** A feature folder as a source: features only, so methods that need the network are refused. */
export class FeatureFolderSource implements FeatureSource {
  readonly model: ScoringModel;

  constructor(
    readonly folder: FeatureFolder,
    private readonly batchSize = 4096,
  ) {
    this.model = { finalLayer: folder.finalLayer };
  }

  get splits(): FeatureSplits {
    return this.folder.splits;
  }

  async setupSplit(role: SetupRole, layers: readonly string[] = []): Promise<FeatureSplit | undefined> {
    const name = this.folder.splits[role];
    return name === undefined ? undefined : this.folder.splitWithLayers(name, layers);
  }

  async scoreSplit(name: string, postprocessor: Postprocessor): Promise<SplitScores> {
    return scoreFeatureSplit(postprocessor, await this.folder.splitWithLayers(name, extraLayers(postprocessor)), this.batchSize);
  }

  async classifierPredictions(name: string): Promise<Int32Array> {
    return classifierPredictions(this.model.finalLayer, await this.folder.split(name), this.batchSize);
  }
}

export type BatchStream = Iterable<Batch> | AsyncIterable<Batch>;

/**
 * Penultimate features and labels of every batch, via `Classifier.forwardFeatures` in inference
 * mode. Each batch's tensors are released before the next (the caller's loader owns `batch.x/y`,
 * which are disposed here too, as loaders hand batches over).
 */
export async function extractFeatures(
  network: Classifier,
  batches: BatchStream,
  name: string,
  layers: readonly string[] = [],
): Promise<FeatureSplit> {
  const featureChunks: Float32Array[] = [];
  const labelChunks: Int32Array[] = [];
  const extra = layers.filter((l) => l !== PENULTIMATE_LAYER);
  checkFeatureLayers(network, extra);
  const layerChunks = new Map<string, Float32Array[]>(extra.map((l) => [l, []]));
  const layerDims = new Map<string, number>();
  let count = 0;
  for await (const batch of batches) {
    try {
      if (extra.length > 0) {
        const out = pooledFeatureLayers(network, batch.x, extra);
        try {
          featureChunks.push((await out.features.data()) as Float32Array);
          for (const layer of extra) {
            layerDims.set(layer, out.layers[layer]!.shape[1]);
            layerChunks.get(layer)!.push((await out.layers[layer]!.data()) as Float32Array);
          }
        } finally {
          tf.dispose([out.logits, out.features, ...Object.values(out.layers)]);
        }
      } else {
        const z = tf.tidy(() => network.forwardFeatures(batch.x, false).features);
        try {
          featureChunks.push((await z.data()) as Float32Array);
        } finally {
          z.dispose();
        }
      }
      labelChunks.push(Int32Array.from(await batch.y.data()));
      count += batch.x.shape[0];
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  const dim = network.featureDim;
  const features = new Float32Array(count * dim);
  const labels = new Int32Array(count);
  let offset = 0;
  for (let i = 0; i < featureChunks.length; i++) {
    features.set(featureChunks[i]!, offset * dim);
    labels.set(labelChunks[i]!, offset);
    offset += labelChunks[i]!.length;
  }
  if (extra.length === 0) return { name, count, dim, features, labels };
  const attached: Record<string, LayerFeatures> = {};
  for (const layer of extra) {
    const d = layerDims.get(layer) ?? 0;
    const values = new Float32Array(count * d);
    let o = 0;
    for (const chunk of layerChunks.get(layer)!) {
      values.set(chunk, o);
      o += chunk.length;
    }
    attached[layer] = { dim: d, features: values };
  }
  return { name, count, dim, features, labels, layers: attached };
}

/** Host copy of a network's final layer. */
export function finalLayerOf(network: Classifier): FinalLayer {
  const { weight, bias } = network.finalLayer();
  try {
    return {
      numClasses: weight.shape[0],
      featureDim: weight.shape[1],
      weight: Float32Array.from(weight.dataSync()),
      bias: Float32Array.from(bias.dataSync()),
    };
  } finally {
    weight.dispose();
    bias.dispose();
  }
}

/**
 * A trained network with a loader per split as the source. Setup features are extracted once and
 * cached; scoring runs the network per batch and passes the inputs too, so methods that perturb
 * inputs (ODIN) or read blocks can work.
 */
export class NetworkSource implements FeatureSource {
  readonly model: ScoringModel;
  private readonly setupCache = new Map<string, Promise<FeatureSplit>>();
  private readonly predictionCache = new Map<string, Promise<Int32Array>>();

  constructor(
    private readonly network: Classifier,
    readonly splits: FeatureSplits,
    /** A fresh pass over split `name` each call (preprocessed, in a fixed order). */
    private readonly loader: (name: string) => BatchStream,
    options: { readonly loadNetwork?: (path: string) => Promise<Classifier> } = {},
  ) {
    this.model = {
      finalLayer: finalLayerOf(network),
      network,
      ...(options.loadNetwork ? { loadNetwork: options.loadNetwork } : {}),
      setupInputs: (role) => {
        const name = this.splits[role];
        return name === undefined ? undefined : this.loader(name);
      },
    };
  }

  setupSplit(role: SetupRole, layers: readonly string[] = []): Promise<FeatureSplit | undefined> {
    const name = this.splits[role];
    if (name === undefined) return Promise.resolve(undefined);
    const extra = layers.filter((l) => l !== PENULTIMATE_LAYER);
    const key = [name, ...extra].join('\u0000');
    let pending = this.setupCache.get(key);
    if (!pending) {
      pending = extractFeatures(this.network, this.loader(name), name, extra);
      this.setupCache.set(key, pending);
    }
    return pending;
  }

  /** argmax of the network's logits over one pass of the split (cached: the network does not change). */
  classifierPredictions(name: string): Promise<Int32Array> {
    let pending = this.predictionCache.get(name);
    if (!pending) {
      pending = this.predictSplit(name);
      this.predictionCache.set(name, pending);
    }
    return pending;
  }

  private async predictSplit(name: string): Promise<Int32Array> {
    const parts: Int32Array[] = [];
    let total = 0;
    for await (const batch of this.loader(name)) {
      try {
        const argmax = tf.tidy(() => tf.argMax(this.network.forward(batch.x, false), 1));
        parts.push(Int32Array.from(await argmax.data()));
        argmax.dispose();
        total += batch.x.shape[0];
      } finally {
        batch.x.dispose();
        batch.y.dispose();
      }
    }
    if (total === 0) throw new DataError(`split '${name}' is empty (its loader yielded no batch)`);
    return concatInt(parts, total);
  }

  async scoreSplit(name: string, postprocessor: Postprocessor): Promise<SplitScores> {
    const preds: Int32Array[] = [];
    const confs: Float64Array[] = [];
    const labels: Int32Array[] = [];
    const ood = !isIdRole(this.splits, name);
    let offset = 0;
    const extra = extraLayers(postprocessor);
    for await (const batch of this.loader(name)) {
      let z: Tensor2D | undefined;
      let layers: Record<string, Tensor2D> | undefined;
      try {
        if (extra.length > 0) {
          const out = pooledFeatureLayers(this.network, batch.x, extra);
          out.logits.dispose();
          z = out.features;
          layers = out.layers;
        } else {
          z = tf.tidy(() => this.network.forwardFeatures(batch.x, false).features);
        }
        const n = batch.x.shape[0];
        const result = await postprocessor.score({ features: z, inputs: batch.x, ...(layers ? { layers } : {}) });
        checkResult(postprocessor, name, offset, n, result.pred, result.conf);
        preds.push(result.pred);
        confs.push(result.conf);
        labels.push(ood ? new Int32Array(n).fill(-1) : Int32Array.from(await batch.y.data()));
        offset += n;
      } finally {
        z?.dispose();
        if (layers) tf.dispose(Object.values(layers));
        batch.x.dispose();
        batch.y.dispose();
      }
    }
    if (offset === 0) throw new DataError(`split '${name}' is empty (its loader yielded no batch)`);
    return { name, pred: concatInt(preds, offset), conf: concatFloat(confs, offset), labels: concatInt(labels, offset) };
  }
}

function concatInt(parts: readonly Int32Array[], total: number): Int32Array {
  const out = new Int32Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function concatFloat(parts: readonly Float64Array[], total: number): Float64Array {
  const out = new Float64Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Guard used by evaluators: a method that needs the network cannot run on features alone. */
export function assertRunnable(postprocessor: Postprocessor, source: FeatureSource): void {
  if (postprocessor.needsNetwork && !source.model.network) {
    throw new UsageError(
      `postprocessor '${postprocessor.name}' needs the network (it perturbs inputs or reads intermediate blocks); ` +
        'a feature folder holds only penultimate features and the final layer — evaluate it from a trained model instead',
    );
  }
}

/** Splits already in memory (benchmarks, tests, pipelines that just extracted features). */
export class InMemoryFeatureSource implements FeatureSource {
  readonly model: ScoringModel;
  private readonly byName: Map<string, FeatureSplit>;

  constructor(
    finalLayer: FinalLayer,
    splits: readonly FeatureSplit[],
    readonly splitsMap: FeatureSplits,
    private readonly batchSize = 4096,
  ) {
    this.model = { finalLayer };
    this.byName = new Map(splits.map((s) => [s.name, s]));
  }

  get splits(): FeatureSplits {
    return this.splitsMap;
  }

  private get(name: string): FeatureSplit {
    const split = this.byName.get(name);
    if (!split) throw new DataError(`split '${name}' is not among the in-memory splits (${[...this.byName.keys()].join(', ')})`);
    if (split.count === 0) throw new DataError(`split '${name}' is empty`);
    return split;
  }

  async setupSplit(role: SetupRole, _layers?: readonly string[]): Promise<FeatureSplit | undefined> {
    const name = this.splitsMap[role];
    return name === undefined ? undefined : this.get(name);
  }

  async scoreSplit(name: string, postprocessor: Postprocessor): Promise<SplitScores> {
    return scoreFeatureSplit(postprocessor, this.get(name), this.batchSize);
  }

  async classifierPredictions(name: string): Promise<Int32Array> {
    return classifierPredictions(this.model.finalLayer, this.get(name), this.batchSize);
  }
}
