import { loadTrainedNetwork } from '../train/restore.js';
import {
  OodkitError,
  Rng,
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
  const session = new ModelSession(options.source.kind === 'features' ? await open() : undefined, open, benchmark, options, logger);
  const evaluations: OodEvaluation[] = [];
  const skipped: ModelEvaluationResult['skipped'] = [];
  const failures: ModelEvaluationResult['failures'] = [];
  try {
    for (const request of options.postprocessors) {
      const postprocessor = await registry.build<Postprocessor>(
        'postprocessor',
        { name: request.name, args: request.args ?? {} } as never,
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
  private networkSource?: Promise<NetworkSource>;
  private opening?: Promise<OpenedModel>;
  private readonly roles?: FeatureSplits;

  constructor(
    private readonly opened: OpenedModel | undefined,
    private readonly open: () => Promise<OpenedModel>,
    private readonly benchmark: LoadedBenchmark | undefined,
    private readonly options: EvaluateModelOptions,
    private readonly logger: Logger,
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
    const roles = this.roles!;
    const missing = postprocessor.requires.filter((role) => roles[role] === undefined);
    if (missing.length > 0) return `fits on the ID ${missing.join(' and ')} split, which the split map does not name`;
    return undefined;
  }

  sourceFor(postprocessor: Postprocessor): Promise<FeatureSource> {
    if (postprocessor.needsNetwork) {
      this.networkSource ??= this.network();
      return this.networkSource;
    }
    this.features ??= this.loadFeatures();
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

  private async loadFeatures(): Promise<FeatureSource> {
    const batch = this.options.featureBatchSize ?? 4096;
    if (this.opened?.folder) return new FeatureFolderSource(this.opened.folder, batch);
    if (this.options.features !== undefined) return new FeatureFolderSource(await FeatureFolder.open(this.options.features), batch);
    const opened = await this.model();
    // A network or an inference-only model (ONNX): the same extraction loop, the same final-layer copy.
    const model: FeatureModel = opened.network ?? opened.inference!;
    const t0 = performance.now();
    const splits: FeatureSplit[] = (await benchmarkFeatureSplits(model, this.benchmark!, { batchSize: this.options.batchSize ?? 500 })).map(
      (s) => ({ name: s.name, count: s.labels.length, dim: model.featureDim, features: s.features, labels: s.labels }),
    );
    const images = splits.reduce((s, x) => s + x.count, 0);
    this.logger.info(
      `features of ${splits.length} splits (${images} images) extracted once in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    return new InMemoryFeatureSource(finalLayerOfModel(model), splits, this.roles!, batch);
  }
}
