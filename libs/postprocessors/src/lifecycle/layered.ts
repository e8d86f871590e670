import { tf } from '@oodkit/compute';
import {
  ConfigError,
  DataError,
  PENULTIMATE_LAYER,
  UsageError,
  type BuildContext,
  type ComponentRegistry,
  type FeatureSplit,
  type FinalLayer,
  type Postprocessor,
  type PostprocessorSetupData,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
  type SetupRole,
} from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  AGGREGATOR_NAMES,
  DEFAULT_AGGREGATOR,
  SCORE_AGGREGATORS,
  type AggregatorName,
  type ScoreAggregator,
} from '../aggregators/index.js';
import { LinearHead } from '../math/head.js';

/** The keys a postprocessor reference takes beside `name`/`args` to run per layer. */
export const layeredKeys = {
  layers: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe(
      "feature layers the method runs on, each fitted and scored on its own (names from `oodkit list network`; 'penultimate' is z)",
    ),
  aggregator: z
    .enum(AGGREGATOR_NAMES as [AggregatorName, ...AggregatorName[]])
    .optional()
    .describe('how the per-layer scores are fused, fitted on the ID val scores (oodeel); default std_normalized'),
};

/** A configured multi-layer run: the layers and the aggregator fusing them. */
export interface LayeredSpec {
  readonly layers: readonly string[];
  readonly aggregator?: AggregatorName;
}

/** One layer's features as a split of their own (z's split when the layer is 'penultimate'). */
export function layerSplit(split: FeatureSplit, layer: string): FeatureSplit {
  if (layer === PENULTIMATE_LAYER) return split;
  const values = split.layers?.[layer];
  if (!values) throw new DataError(`split '${split.name}' carries no features of layer '${layer}'`);
  return { name: split.name, count: split.count, dim: values.dim, features: values.features, labels: split.labels };
}

/**
 * A stand-in final layer for an intermediate layer: zero weights of the layer's width, so a
 * layerwise method (which never reads the final layer's values) fits on it; its predictions are
 * not used — the wrapper predicts with the real head.
 */
function standInFinalLayer(numClasses: number, dim: number): FinalLayer {
  return { numClasses, featureDim: dim, weight: new Float32Array(numClasses * dim), bias: new Float32Array(numClasses) };
}

/**
 * A feature-based detector run on several layers (oodeel's multi-layer FeatureBasedDetector): one
 * instance per layer, fitted on that layer's features; after setup (and after every hyperparameter
 * change, since the per-layer scores change) the aggregator is fitted on the ID val scores of every
 * layer, and a batch's confidence is the aggregate of its per-layer confidences. pred is the
 * classifier's (argmax of z·Wᵀ + b). With one layer the score is that layer's, unaggregated.
 */
export class LayeredPostprocessor implements Postprocessor {
  readonly needsNetwork = false;
  readonly requires: readonly SetupRole[];
  readonly featureLayers: readonly string[];
  private aggregator?: ScoreAggregator;
  private head?: LinearHead;
  private val?: FeatureSplit;

  constructor(
    readonly name: string,
    private readonly perLayer: readonly Postprocessor[],
    private readonly spec: Required<LayeredSpec>,
  ) {
    if (perLayer.length !== spec.layers.length) throw new UsageError(`${name}: one instance per layer expected`);
    this.featureLayers = [...spec.layers];
    const roles = new Set<SetupRole>(perLayer.flatMap((p) => p.requires));
    if (spec.layers.length > 1) roles.add('val');
    this.requires = [...roles];
  }

  async setup(model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    this.dispose();
    this.head = new LinearHead(model.finalLayer);
    for (let i = 0; i < this.perLayer.length; i++) {
      const layer = this.spec.layers[i]!;
      const project = (split?: FeatureSplit) => (split ? layerSplit(split, layer) : undefined);
      const layerData: PostprocessorSetupData = { train: project(data.train), val: project(data.val), ood_val: project(data.ood_val) };
      const ref = layerData.train ?? layerData.val ?? layerData.ood_val;
      const layerModel: ScoringModel =
        layer === PENULTIMATE_LAYER || !ref ? model : { finalLayer: standInFinalLayer(model.finalLayer.numClasses, ref.dim) };
      await this.perLayer[i]!.setup(layerModel, layerData);
    }
    if (this.perLayer.length > 1) {
      if (!data.val) throw new UsageError(`${this.name}: the aggregator fits on the ID val split, but setup received none`);
      this.val = data.val;
      await this.fitAggregator();
    }
  }

  private async fitAggregator(): Promise<void> {
    const val = this.val!;
    const scores: Float64Array[] = [];
    for (let i = 0; i < this.perLayer.length; i++) {
      const split = layerSplit(val, this.spec.layers[i]!);
      const conf = new Float64Array(split.count);
      const rows = 4096;
      for (let start = 0; start < split.count; start += rows) {
        const n = Math.min(rows, split.count - start);
        const features = tf.tensor2d(split.features.subarray(start * split.dim, (start + n) * split.dim), [n, split.dim]);
        try {
          conf.set((await this.perLayer[i]!.score({ features })).conf, start);
        } finally {
          features.dispose();
        }
      }
      scores.push(conf);
    }
    const aggregator = SCORE_AGGREGATORS[this.spec.aggregator]();
    aggregator.fit(scores);
    this.aggregator = aggregator;
  }

  async setHyperparameters(values: Record<string, unknown>): Promise<void> {
    for (const p of this.perLayer) await p.setHyperparameters(values);
    if (this.val) await this.fitAggregator();
  }

  hyperparameters(): Record<string, unknown> {
    return this.perLayer[0]!.hyperparameters();
  }

  searchGrid(grid: Readonly<Record<string, readonly unknown[] | undefined>>): Record<string, readonly unknown[]> {
    const first = this.perLayer[0]!;
    if (first.searchGrid) return first.searchGrid(grid);
    return Object.fromEntries(Object.entries(grid).filter((e): e is [string, readonly unknown[]] => e[1] !== undefined));
  }

  async score(batch: ScoreBatch): Promise<ScoreResult> {
    if (!this.head) throw new UsageError(`${this.name}: call setup(model, data) before scoring`);
    const confs: Float64Array[] = [];
    for (let i = 0; i < this.perLayer.length; i++) {
      const layer = this.spec.layers[i]!;
      const features: Tensor2D | undefined = layer === PENULTIMATE_LAYER ? batch.features : batch.layers?.[layer];
      if (!features) throw new DataError(`${this.name}: the score batch carries no features of layer '${layer}'`);
      confs.push((await this.perLayer[i]!.score({ features })).conf);
    }
    const predT = tf.tidy(() => tf.argMax(this.head!.logits(batch.features), 1));
    const pred = Int32Array.from(await predT.data());
    predT.dispose();
    return { pred, conf: this.aggregator ? this.aggregator.aggregate(confs) : confs[0]! };
  }

  dispose(): void {
    for (const p of this.perLayer) p.dispose?.();
    this.head?.dispose();
    this.head = undefined;
    this.aggregator = undefined;
    this.val = undefined;
  }
}

/** A postprocessor reference as configs write it: `{name, args, layers?, aggregator?}` (and `grid`, `aps`, read elsewhere). */
export interface PostprocessorReference {
  readonly name: string;
  readonly args?: Record<string, unknown>;
  readonly layers?: readonly string[];
  readonly aggregator?: AggregatorName;
}

/**
 * Problems of a reference's `layers`/`aggregator` (paths under `path`): the method must be layerwise,
 * an aggregator needs layers, and when `knownLayers` is given (the configured network's) every layer
 * must be one of them.
 */
export function validateLayered(
  registry: ComponentRegistry,
  ref: { name?: unknown; layers?: unknown; aggregator?: unknown },
  path: string,
  knownLayers?: readonly string[],
): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  if (ref.layers === undefined) {
    if (ref.aggregator !== undefined)
      issues.push({ path: `${path}.aggregator`, message: 'an aggregator fuses layers: set layers: [...] too' });
    return issues;
  }
  const parsed = layeredKeys.layers.safeParse(ref.layers);
  if (!parsed.success) return [{ path: `${path}.layers`, message: 'expected a non-empty list of layer names' }];
  const layers = parsed.data ?? [];
  if (new Set(layers).size !== layers.length) issues.push({ path: `${path}.layers`, message: 'a layer is listed twice' });
  if (typeof ref.name === 'string' && registry.has('postprocessor', ref.name)) {
    const def = registry.get('postprocessor', ref.name);
    if (!def.layerwise) {
      const layerwise = registry
        .list('postprocessor')
        .filter((e) => e.definition.layerwise)
        .map((e) => e.definition.name);
      issues.push({
        path: `${path}.layers`,
        message: `'${ref.name}' does not run per layer (it reads the final layer or the network); methods that do: ${layerwise.join(', ')}`,
      });
    }
  }
  if (knownLayers) {
    layers.forEach((layer, i) => {
      if (!knownLayers.includes(layer)) {
        issues.push({ path: `${path}.layers.${i}`, message: `unknown layer '${layer}'; the network's layers: ${knownLayers.join(', ')}` });
      }
    });
  }
  return issues;
}

/** Feature layers of the network a config names (a wrapper such as godin_net: its backbone's), if known. */
export function configuredNetworkLayers(registry: ComponentRegistry, network: unknown): readonly string[] | undefined {
  const ref = typeof network === 'string' ? { name: network } : (network as { name?: unknown; args?: { backbone?: unknown } } | undefined);
  if (!ref || typeof ref.name !== 'string' || !registry.has('network', ref.name)) return undefined;
  const def = registry.get('network', ref.name);
  if (def.featureLayers) return def.featureLayers;
  let backbone = ref.args?.backbone;
  if (backbone === undefined) {
    // a wrapper left at its default backbone (lenet): the resolved args name it
    try {
      backbone = (registry.resolveArgs('network', { name: ref.name, args: { ...(ref.args ?? {}) } }) as { backbone?: unknown }).backbone;
    } catch {
      return undefined;
    }
  }
  return backbone !== undefined ? configuredNetworkLayers(registry, backbone) : undefined;
}

/**
 * Build a postprocessor reference: the method itself, or — with `layers` — one instance per layer
 * inside a LayeredPostprocessor (each built with the same args and its own derived random stream).
 */
export async function buildPostprocessor(
  registry: ComponentRegistry,
  ref: PostprocessorReference,
  ctx: Omit<BuildContext, 'registry'>,
  path = 'postprocessor',
): Promise<Postprocessor> {
  const section = { name: ref.name, args: ref.args ?? {} };
  if (ref.layers === undefined) return registry.build<Postprocessor>('postprocessor', section, ctx, path);
  const issues = validateLayered(registry, ref, path);
  if (issues.length > 0) throw new ConfigError(issues);
  const layers = [...ref.layers];
  const perLayer: Postprocessor[] = [];
  for (const layer of layers) {
    perLayer.push(await registry.build<Postprocessor>('postprocessor', section, { ...ctx, rng: ctx.rng.derive(`layer/${layer}`) }, path));
  }
  return new LayeredPostprocessor(ref.name, perLayer, { layers, aggregator: ref.aggregator ?? DEFAULT_AGGREGATOR });
}
