import { loadTrainedNetwork } from '../train/restore.js';
import {
  OodkitError,
  PENULTIMATE_LAYER,
  Rng,
  featureLayersOf,
  UsageError,
  silentLogger,
  type BuildContext,
  type ComponentRegistry,
  type FeatureSplit,
  type Logger,
  type Postprocessor,
} from '@oodkit/core';
import type { LoadedBenchmark } from '@oodkit/data';
import {
  FeatureFolder,
  FeatureFolderSource,
  InMemoryFeatureSource,
  NetworkSource,
  featureSplitsSchema,
  type Evaluator,
  type FeatureSource,
  type FeatureSplits,
  type HyperparameterGrid,
  type OodEvaluation,
} from '@oodkit/evaluators';
import { buildPostprocessor, checkFeatureLayers, type AggregatorName } from '@oodkit/postprocessors';
import {
  benchmarkFeatureSplits,
  benchmarkRoles,
  benchmarkSplits,
  datasetBatches,
  finalLayerOfModel,
  type FeatureModel,
} from '../features/extract.js';
import { networkRefusal, openModel, requireBenchmarkFor, sourceLabel, type ModelSource, type OpenedModel } from './model-source.js';

/** One postprocessor to evaluate. */
export interface PostprocessorRequest {
  readonly name: string;
  readonly args?: Readonly<Record<string, unknown>>;
  /** APS grid replacing the registered lists it names (only searched with APS). */
  readonly grid?: HyperparameterGrid;
  /** APS for this one (a bench entry's own flag); default: the evaluation's `aps`. */
  readonly aps?: boolean;
  /** Its random stream (default: `<seed>.derive('postprocessor.<name>')`). */
  readonly rng?: Rng;
  /** Config path named in errors about its args (default `postprocessor`). */
  readonly path?: string;
  /** Feature layers to run it on, one instance each, scores fused by `aggregator` (layerwise methods only). */
  readonly layers?: readonly string[];
  readonly aggregator?: AggregatorName;
}

export interface EvaluateModelOptions {
  readonly source: ModelSource;
  /** The benchmark whose splits go through the network (required unless the source is a feature folder). */
  readonly benchmark?: LoadedBenchmark;
  /** A feature folder of this very model on this benchmark (the bench's cached product): read instead of extracting. */
  readonly features?: string;
  readonly postprocessors: readonly PostprocessorRequest[];
  /**
   * `--postprocessor all`: a method the source cannot run (needs the network, fits on a split the
   * source lacks) is skipped with its reason, and a method that fails is recorded and the others go
   * on. Otherwise both are errors.
   */
  readonly all?: boolean;
  /** A registered evaluator (the `evaluator:` key, default `ood`), built by {@link buildEvaluator}. */
  readonly evaluator: Evaluator;
  readonly aps?: boolean;
  readonly registry: ComponentRegistry;
  readonly config: Readonly<Record<string, unknown>>;
  readonly logger?: Logger;
  /** Writes each evaluation here (the evaluator's layout: `<pp>__metrics.json/csv`, scores, preds). */
  readonly out?: string;
  readonly saveScores?: boolean;
  /** Images per batch through the network (default 500). */
  readonly batchSize?: number;
  /** Feature rows per scoring batch (default 4096). */
  readonly featureBatchSize?: number;
  /** Called after each postprocessor's evaluation (written when `out` is set). */
  readonly onEvaluated?: (evaluation: OodEvaluation) => void | Promise<void>;
}

export interface ModelEvaluationResult {
  /** The source's short name (checkpoint or folder file name). */
  readonly label: string;
  readonly evaluations: OodEvaluation[];
  /** With `all`: methods left out, with the reason. */
  readonly skipped: { postprocessor: string; reason: string }[];
  /** With `all`: methods that failed, with the message. */
  readonly failures: { postprocessor: string; message: string }[];
}

/**
 * Extra feature layers the methods read from a feature source, in first-use order: every request's
 * `layers` and the `layers` argument of a method whose definition says it names feature layers
 * (`layersArg`: dknn); 'penultimate' is z. Args that do not resolve are left to the method's build,
 * which names the problem.
 */
export function requestedFeatureLayers(
  registry: ComponentRegistry,
  requests: readonly { name: string; args?: Readonly<Record<string, unknown>>; layers?: readonly string[] }[],
): string[] {
  const layers = new Set<string>();
  for (const request of requests) {
    for (const layer of request.layers ?? []) layers.add(layer);
    if (!registry.has('postprocessor', request.name) || !registry.get('postprocessor', request.name).layersArg) continue;
    let args: { layers?: unknown } = {};
    try {
      args = registry.resolveArgs('postprocessor', { name: request.name, args: { ...(request.args ?? {}) } }) as { layers?: unknown };
    } catch {
      continue;
    }
    if (Array.isArray(args.layers)) for (const layer of args.layers) if (typeof layer === 'string') layers.add(layer);
  }
  layers.delete(PENULTIMATE_LAYER);
  return [...layers];
}

/** The extra layers (besides z) a postprocessor reads. */
function extraLayersOf(postprocessor: Postprocessor): string[] {
  return (postprocessor.featureLayers ?? []).filter((l) => l !== PENULTIMATE_LAYER);
}

/** The config's `evaluator:` (default `ood`), built through the registry. */
export async function buildEvaluator(
  registry: ComponentRegistry,
  config: Readonly<Record<string, unknown>>,
  ctx: Omit<BuildContext, 'registry'>,
): Promise<Evaluator> {
  const section = config.evaluator ?? { name: 'ood' };
  return registry.build<Evaluator>('evaluator', section as never, ctx, 'evaluator');
}

/**
 * The one evaluation path, used by `oodkit eval`, `eval-features`, `test-ood`, the bench's evaluation
 * cells and `createEvaluator`: open the model once, extract the features of every benchmark split once
 * (on the first feature-only method; a feature folder is read instead) and score every feature-only
 * method on them; methods that need the network (ODIN, ...) get it with the benchmark's loaders.
 * Multi-layer methods (`layers:`, dknn) read pooled extra layers: from the folder's layers.yml, or
 * extracted in that same one pass (the layers every request names, where the network has them).
 */
export async function evaluateModel(options: EvaluateModelOptions): Promise<ModelEvaluationResult> {
  const logger = options.logger ?? silentLogger;
  const { registry, config, benchmark } = options;
  requireBenchmarkFor(options.source, benchmark);
  const root = Rng.fromSeed(typeof config.seed === 'number' ? config.seed : 0);
  const open = () =>
    openModel(options.source, {
      registry,
      logger,
      benchmark,
      buildContext: { logger: logger.child('network'), rng: root.derive('network'), config },
    });
  // A feature folder source is opened at once (its split map is needed); a network only when needed.
  const session = new ModelSession(options.source.kind === 'features' ? await open() : undefined, open, benchmark, options, logger, {
    layers: requestedFeatureLayers(registry, options.postprocessors),
  });
  const evaluations: OodEvaluation[] = [];
  const skipped: ModelEvaluationResult['skipped'] = [];
  const failures: ModelEvaluationResult['failures'] = [];
  try {
    for (const request of options.postprocessors) {
      const postprocessor = await buildPostprocessor(
        registry,
        {
          name: request.name,
          args: { ...(request.args ?? {}) },
          ...(request.layers !== undefined ? { layers: request.layers } : {}),
          ...(request.aggregator !== undefined ? { aggregator: request.aggregator } : {}),
        },
        { logger: logger.child(request.name), rng: request.rng ?? root.derive(`postprocessor.${request.name}`), config },
        request.path ?? 'postprocessor',
      );
      try {
        const reason = session.cannotRun(postprocessor);
        if (reason !== undefined) {
          if (!options.all) throw new UsageError(`postprocessor '${request.name}' ${reason}`);
          skipped.push({ postprocessor: request.name, reason });
          logger.info(`skipping ${request.name}: ${reason}`);
          continue;
        }
        const source = await session.sourceFor(postprocessor);
        const evaluation = await options.evaluator.evaluate(postprocessor, source, {
          aps: request.aps ?? options.aps ?? false,
          ...(request.grid !== undefined ? { grid: request.grid } : {}),
        });
        if (options.out !== undefined) {
          await options.evaluator.write(options.out, evaluation, { saveScores: options.saveScores ?? true });
          logger.info(`${request.name}: tables and scores in ${options.out}`);
        }
        evaluations.push(evaluation);
        await options.onEvaluated?.(evaluation);
      } catch (error) {
        if (!options.all || !(error instanceof OodkitError)) throw error;
        if (error instanceof UsageError) {
          // A method that does not apply to this model (G-ODIN on a plain network) is left out of `all`, not failed.
          skipped.push({ postprocessor: request.name, reason: error.message });
          logger.info(`skipping ${request.name}: ${error.message}`);
          continue;
        }
        failures.push({ postprocessor: request.name, message: error.message });
        logger.error(`${request.name} failed: ${error.message}`);
      } finally {
        postprocessor.dispose?.();
      }
    }
  } finally {
    await session.dispose();
  }
  return { label: session.label, evaluations, skipped, failures };
}

/** One model: opened on first need, its split map, its features (extracted at most once) and its network source. */
class ModelSession {
  private features?: Promise<FeatureSource>;
  /** Extra layers the in-memory features carry. */
  private extracted: ReadonlySet<string> = new Set();
  private networkSource?: Promise<NetworkSource>;
  private opening?: Promise<OpenedModel>;
  private readonly roles?: FeatureSplits;

  constructor(
    private readonly opened: OpenedModel | undefined,
    private readonly open: () => Promise<OpenedModel>,
    private readonly benchmark: LoadedBenchmark | undefined,
    private readonly options: EvaluateModelOptions,
    private readonly logger: Logger,
    /** Extra layers the requests read, extracted with z in one pass where the network has them. */
    private readonly wanted: { readonly layers: readonly string[] },
  ) {
    if (opened) this.opening = Promise.resolve(opened);
    this.roles = opened?.folder?.splits ?? (benchmark ? featureSplitsSchema.parse(benchmarkRoles(benchmark)) : undefined);
  }

  get label(): string {
    return this.opened?.label ?? sourceLabel(this.options.source);
  }

  private model(): Promise<OpenedModel> {
    this.opening ??= this.open();
    return this.opening;
  }

  /** Why this postprocessor cannot run on this model (undefined: it can). */
  cannotRun(postprocessor: Postprocessor): string | undefined {
    const refusal = networkRefusal(this.options.source, postprocessor);
    if (refusal !== undefined) return refusal;
    const folder = this.opened?.folder;
    const absent = folder ? extraLayersOf(postprocessor).filter((l) => !folder.layers.includes(l)) : [];
    if (absent.length > 0)
      return `reads feature layer ${absent.map((l) => `'${l}'`).join(', ')}, which the feature folder does not hold (its layers: ${folder!.layers.join(', ')}); write it with oodkit feat-extract --layers`;
    const roles = this.roles!;
    const missing = postprocessor.requires.filter((role) => roles[role] === undefined);
    if (missing.length > 0) return `fits on the ID ${missing.join(' and ')} split, which the split map does not name`;
    return undefined;
  }

  async sourceFor(postprocessor: Postprocessor): Promise<FeatureSource> {
    if (postprocessor.needsNetwork) {
      this.networkSource ??= this.network();
      return this.networkSource;
    }
    if (this.opened?.folder || this.options.features !== undefined) {
      // a folder reads the layers a method asks for on demand (and names the ones it lacks)
      this.features ??= this.loadFeatures([]);
      return this.features;
    }
    const needed = extraLayersOf(postprocessor);
    if (this.features && needed.every((l) => this.extracted.has(l))) return this.features;
    const opened = await this.model();
    const network = opened.network;
    if (!network) {
      // an inference-only model (ONNX) gives logits and z only
      if (needed.length > 0)
        throw new UsageError(
          `${postprocessor.name} reads feature layers ${needed.join(', ')}; an ONNX model gives only logits and penultimate features`,
        );
      this.features ??= this.loadFeatures([]);
      return this.features;
    }
    checkFeatureLayers(network, needed);
    const known = featureLayersOf(network);
    // one pass for z and every layer a request names that this network has; another only for a layer no request named
    const layers = [...new Set([...this.extracted, ...needed, ...this.wanted.layers.filter((l) => known.includes(l))])];
    this.extracted = new Set(layers);
    this.features = this.loadFeatures(layers);
    return this.features;
  }

  async dispose(): Promise<void> {
    if (!this.opening) return;
    const model = await this.opening.catch(() => undefined);
    await model?.dispose();
  }

  private async network(): Promise<NetworkSource> {
    const model = await this.model();
    const bench = this.benchmark!;
    const byName = new Map(benchmarkSplits(bench).map((s) => [s.name, s]));
    const batchSize = this.options.batchSize ?? 500;
    return new NetworkSource(
      model.network!,
      this.roles!,
      (name) => {
        const split = byName.get(name)!;
        return datasetBatches(split.dataset, bench.preprocess.test, batchSize, split.ood ? -1 : undefined);
      },
      {
        // Ensemble members (further checkpoints) are loaded as trained oodkit networks.
        loadNetwork: async (path) => (await loadTrainedNetwork(path, this.options.registry, this.logger)).network,
      },
    );
  }

  private async loadFeatures(layers: readonly string[]): Promise<FeatureSource> {
    const batch = this.options.featureBatchSize ?? 4096;
    if (this.opened?.folder) return new FeatureFolderSource(this.opened.folder, batch);
    if (this.options.features !== undefined) return new FeatureFolderSource(await FeatureFolder.open(this.options.features), batch);
    const opened = await this.model();
    // A network or an inference-only model (ONNX): the same extraction loop, the same final-layer copy.
    const model: FeatureModel = opened.network ?? opened.inference!;
    const t0 = performance.now();
    const splits: FeatureSplit[] = (
      await benchmarkFeatureSplits(model, this.benchmark!, { batchSize: this.options.batchSize ?? 500, layers })
    ).map((s) => ({
      name: s.name,
      count: s.labels.length,
      dim: model.featureDim,
      features: s.features,
      labels: s.labels,
      ...(layers.length > 0 && s.layers ? { layers: s.layers } : {}),
    }));
    const images = splits.reduce((s, x) => s + x.count, 0);
    this.logger.info(
      `features of ${splits.length} splits (${images} images${layers.length > 0 ? `; layers ${layers.join(', ')} pooled` : ''}) extracted in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    return new InMemoryFeatureSource(finalLayerOfModel(model), splits, this.roles!, batch);
  }
}
