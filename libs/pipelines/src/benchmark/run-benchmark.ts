import { existsSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  ConfigError,
  OodkitError,
  Rng,
  UsageError,
  saveResolvedConfig,
  silentLogger,
  writeFileAtomic,
  type ComponentRegistry,
  type Logger,
} from '@oodkit/core';
import { computeOptionsFrom, initCompute } from '@oodkit/compute';
import { cacheDir, loadBenchmark, resolveBenchmarkValue, type LoadedBenchmark } from '@oodkit/data';
import { EVALUATION_FORMAT, apsGrid, evaluationToJson, type OodEvaluationJson } from '@oodkit/evaluators';
import { generateSynthetic, isGeneratorSource, parseSioConfig, type GeneratedSet, type SioConfig } from '@oodkit/sio';
import { ProductStore, hashSpec } from '../store/product-store.js';
import { moveAside, openRunFolder, type RunFolderFlags } from '../store/run-folder.js';
import { benchmarkRoles, benchmarkSplits, writeBenchmarkFeatures } from '../features/extract.js';
import { buildEvaluator, evaluateModel, requestedFeatureLayers } from '../evaluation/evaluate-model.js';
import { DEFAULT_AGGREGATOR } from '@oodkit/postprocessors';
import { loadTrainedNetwork } from '../train/restore.js';
import { runTraining, trainingConfigHash } from '../train/pipeline.js';
import { TrainingInterruptedError } from '../train/loop.js';
import {
  benchJudge,
  benchSectionSchema,
  benchTrainers,
  benchVariants,
  variantSioSection,
  type BenchCell,
  type BenchPostprocessor,
  type BenchSection,
  type BenchTrainer,
} from './bench-section.js';
import { generatorCellOf, planBenchCells, type CellPlan, type PlannedCell } from './cell-plan.js';
import { readCellStatus, writeCellStatus, type CellState, type CellStatus } from './cell-status.js';
import { GENERATOR_QUALITY_FORMAT, measureGeneratorQuality, type GeneratorQuality } from './generator-quality.js';
import { limitBenchmark } from './limits.js';
import { summarize, type CellRecord } from './summary.js';
import { buildReport } from './build-report.js';
import { sioTableMarkdown, type SioTableSection } from './sio-table.js';
import { renderHtmlReport } from '../report/html-report.js';

export type BenchStage = 'generator' | 'train' | 'features' | 'eval';

/** What the CLI turns into progress bars (TTY) or periodic log lines (CI). */
export type BenchEvent =
  | { readonly type: 'plan'; readonly trainings: number; readonly evaluations: number }
  | { readonly type: 'stage'; readonly stage: BenchStage; readonly label: string; readonly total: number; readonly unit: string }
  | { readonly type: 'progress'; readonly stage: BenchStage; readonly current: number; readonly total?: number; readonly detail?: string }
  | { readonly type: 'stage-end'; readonly stage: BenchStage; readonly label: string; readonly cached: boolean; readonly seconds: number }
  | { readonly type: 'cell'; readonly line: string };

export interface BenchRunOptions extends RunFolderFlags {
  readonly registry: ComponentRegistry;
  readonly logger?: Logger;
  readonly onEvent?: (event: BenchEvent) => void;
}

export interface BenchFailure {
  readonly cell: string;
  readonly postprocessor: string;
  readonly message: string;
}

export interface BenchResult {
  /** This config's results folder, `<group>/run-<config hash>`. */
  readonly outDir: string;
  /** `<output_dir>/<exp_name or bench_<benchmark>>`: the products cache, every config's run folder, `latest`. */
  readonly groupDir: string;
  /** Evaluations that threw; every other cell is complete. Re-running retries only these. */
  readonly failures: readonly BenchFailure[];
  readonly summary: ReturnType<typeof summarize>;
  readonly cells: readonly CellRecord[];
  readonly reportPath: string;
  /** The benchmark's name. */
  readonly benchmark: string;
  readonly seeds: readonly number[];
  /** One entry per distinct synthetic set the SIO variants train on (bench.generator_quality). */
  readonly generatorQuality: readonly GeneratorQuality[];
}

type Section = Record<string, unknown>;

/** The training config of one model: the run's config with this trainer, seed and variant's sio: section. */
function cellTrainConfig(
  config: Section,
  benchmark: Section,
  trainer: { name: string; args: Record<string, unknown> },
  seed: number,
  sio: Section | undefined,
): Section {
  const { bench: _bench, pipeline: _pipeline, sio: _sio, ...rest } = config;
  return { ...rest, benchmark, trainer: { name: trainer.name, args: trainer.args }, seed, ...(sio ? { sio } : {}) };
}

/** A synthetic set a generator makes, and the SIO variants that train on it. */
interface SyntheticSource {
  readonly source: Extract<SioConfig['synthetic'], { name: string }>;
  readonly variants: string[];
}

/** What the plan of one benchmark config is made of (no data read). */
interface BenchMatrix {
  readonly bench: BenchSection;
  readonly trainers: readonly BenchTrainer[];
  /** Each SIO variant's sio: section (the config's, with the variant's keys over it), validated. */
  readonly sioOf: ReadonlyMap<string, { readonly section: Section; readonly parsed: SioConfig }>;
  /** One entry per distinct generator source (variants that only change real_ratio share it). */
  readonly syntheticSources: readonly SyntheticSource[];
  /** The trainer and seed whose baseline model judges the synthetic sets. */
  readonly judge: { readonly trainer: { name: string; args: Record<string, unknown> }; readonly seed: number };
  readonly plan: CellPlan;
}

function benchMatrix(config: Section): BenchMatrix {
  const bench: BenchSection = benchSectionSchema.parse(config.bench);
  if (bench.benchmarks) throw new OodkitError('bench.benchmarks: a benchmark config of the set is needed here (see benchmarkConfigs)');
  const trainers = benchTrainers(bench);
  const sioOf = new Map<string, { section: Section; parsed: SioConfig }>();
  for (const [i, variant] of benchVariants(bench).entries()) {
    if (!variant.sio) continue;
    const section = variantSioSection(config.sio, variant)!;
    const own = Object.keys(variant.sioOverrides).length > 0;
    const parsed = parseSioConfig(section, own ? `bench.variants.${i}.sio` : 'sio');
    if (!parsed) {
      throw new ConfigError([
        {
          path: own ? `bench.variants.${i}` : 'sio',
          message: `bench.variants includes '${variant.name}' but the config has no enabled sio block (sio: {enabled: true, synthetic: ...})`,
        },
      ]);
    }
    sioOf.set(variant.name, { section, parsed });
  }
  const syntheticSources: SyntheticSource[] = [];
  const byIdentity = new Map<string, SyntheticSource>();
  for (const [variantName, { parsed }] of sioOf) {
    if (!isGeneratorSource(parsed.synthetic)) continue;
    const source = parsed.synthetic;
    const identity = JSON.stringify([source.name, source.args, source.count]);
    const known = byIdentity.get(identity);
    if (known) known.variants.push(variantName);
    else {
      const entry = { source, variants: [variantName] };
      byIdentity.set(identity, entry);
      syntheticSources.push(entry);
    }
  }
  const judge = benchJudge(bench);
  const plan = planBenchCells(bench, {
    generatorSets: syntheticSources.map((s) => s.variants),
    ...(bench.generator_quality ? { quality: { judge: `base/baseline/s${judge.seed}` } } : {}),
  });
  return { bench, trainers, sioOf, syntheticSources, judge, plan };
}

/** The bench section and the cell plan of one benchmark config, without reading any data (what a launcher needs). */
export function benchCellPlan(config: Section): { bench: BenchSection; plan: CellPlan } {
  const { bench, plan } = benchMatrix(config);
  return { bench, plan };
}

/**
 * The configs a bench config runs: with `bench.benchmarks: [a, b]` one per benchmark (the matrix
 * with `benchmark: a`, …), else the config itself. Each has its own results group, products, lock
 * and run folder.
 */
export function benchmarkConfigs(config: Section): Section[] {
  const bench = benchSectionSchema.parse(config.bench);
  if (!bench.benchmarks) return [config];
  const { benchmarks: _list, ...rest } = config.bench as Section;
  return bench.benchmarks.map((benchmark) => ({ ...config, benchmark, bench: rest }));
}

/** `<output_dir>/<exp_name or bench_<benchmark name>>` and this config's `run-<hash>` folder in it. */
export function benchFolders(config: Section, benchmarkName: string): { groupDir: string; runId: string; outDir: string } {
  const groupDir = resolve(
    typeof config.output_dir === 'string' ? config.output_dir : 'results',
    typeof config.exp_name === 'string' ? config.exp_name : `bench_${benchmarkName}`,
  );
  const runId = benchRunId(config);
  return { groupDir, runId, outDir: join(groupDir, runId) };
}

/** The benchmark's name without loading its data (a registered name, or an inline spec's `name`). */
export async function benchmarkNameOf(config: Section): Promise<string> {
  const raw = (await resolveBenchmarkValue(config.benchmark)) as Section;
  return typeof raw.name === 'string' ? raw.name : String(config.benchmark);
}

export interface BenchSessionOptions {
  readonly registry: ComponentRegistry;
  readonly logger?: Logger;
  readonly onEvent?: (event: BenchEvent) => void;
  /** Aborted on SIGTERM (a scheduler's warning before its time limit): a training checkpoints and stops. */
  readonly stopSignal?: AbortSignal;
  /** How long a cell waits for a product another live process is making (see ProductStore). */
  readonly lockWaitMs?: number;
  /**
   * The multi-benchmark config this one belongs to (bench.benchmarks): its summary cell writes the
   * combined table once every benchmark's summary exists.
   */
  readonly setConfig?: Section;
}

/** Everything every cell of one benchmark config needs: the parsed matrix, the data, the store, the plan. */
export interface BenchSession extends BenchMatrix {
  readonly config: Section;
  readonly loaded: LoadedBenchmark;
  /** The benchmark spec with bench.limits applied (what every product is keyed by). */
  readonly benchmarkSpec: Section;
  readonly groupDir: string;
  readonly runId: string;
  readonly outDir: string;
  readonly store: ProductStore;
  readonly evaluator: Awaited<ReturnType<typeof buildEvaluator>>;
  readonly registry: ComponentRegistry;
  readonly logger: Logger;
  readonly emit: (event: BenchEvent) => void;
  readonly stopSignal?: AbortSignal;
  readonly setConfig?: Section;
}

/**
 * Errors thrown by the caller's event handler: the caller's code failing (or a test simulating a
 * crash) is no result of the cell that was running, so it ends the run instead of being recorded.
 */
const observerErrors = new WeakSet<object>();
const isObserverError = (error: unknown) => typeof error === 'object' && error !== null && observerErrors.has(error);

function observed(onEvent: ((event: BenchEvent) => void) | undefined): (event: BenchEvent) => void {
  if (!onEvent) return () => undefined;
  return (event) => {
    try {
      onEvent(event);
    } catch (error) {
      if (typeof error === 'object' && error !== null) observerErrors.add(error);
      throw error;
    }
  };
}

/** Parses the matrix, loads the benchmark (limited), starts the backend; no lock is taken (cells lock products). */
export async function openBenchSession(config: Section, options: BenchSessionOptions): Promise<BenchSession> {
  const logger = options.logger ?? silentLogger;
  const { registry } = options;
  const matrix = benchMatrix(config);
  const buildCtx = { logger, rng: Rng.fromSeed(0), config };
  const rawBenchmark = (await resolveBenchmarkValue(config.benchmark)) as Section;
  const fullBenchmark = await loadBenchmark(rawBenchmark, registry, buildCtx);
  const benchmarkSpec = limitBenchmark(rawBenchmark, fullBenchmark, matrix.bench.limits);
  const loaded: LoadedBenchmark = matrix.bench.limits ? await loadBenchmark(benchmarkSpec, registry, buildCtx) : fullBenchmark;
  const folders = benchFolders(config, loaded.config.name);
  await initCompute({ ...computeOptionsFrom(config.compute), logger });
  return {
    ...matrix,
    config,
    loaded,
    benchmarkSpec,
    ...folders,
    store: new ProductStore(join(folders.groupDir, 'products'), { lockWaitMs: options.lockWaitMs ?? 0, logger }),
    evaluator: await buildEvaluator(registry, config, buildCtx),
    registry,
    logger,
    emit: observed(options.onEvent),
    ...(options.stopSignal ? { stopSignal: options.stopSignal } : {}),
    ...(options.setConfig ? { setConfig: options.setConfig } : {}),
  };
}

/**
 * OpenOOD's benchmark stage as one resumable job: every cell of the plan in one process, model by
 * model — generators → for every trainer × variant × seed: train → extract features → evaluate its
 * trainer's postprocessors → generator quality → the summary (aggregate over seeds, tables, report).
 * The cells are the ones `oodkit bench --cell` and the launchers run one by one; every product is
 * cached under `<group>/products/` by the hash of what made it, so a re-run skips finished work and a
 * killed run resumes (training from its last checkpoint); each config writes its summary, tables and
 * report to its own `<group>/run-<config hash>/`, and `<group>/latest` points to the last one
 * finished. `resume` changes nothing (a benchmark always continues); `overwrite` moves this config's
 * results folder aside first (the products cache stays).
 */
export async function runBenchmark(config: Section, options: BenchRunOptions & { setConfig?: Section }): Promise<BenchResult> {
  const logger = options.logger ?? silentLogger;
  if (options.resume && options.overwrite)
    throw new UsageError('--resume and --overwrite exclude each other: continue the run or start it over');
  benchMatrix(config); // config errors before any data is read
  const session = await openBenchSession(config, options);
  const { groupDir, outDir } = session;
  // One lock for the group: an in-process run owns its run folder. Re-running a config continues it
  // (its folder is named by the config hash, every product is cached by hash).
  const group = await openRunFolder(groupDir, { what: 'benchmark results', logger, continueExisting: true });
  try {
    if (options.overwrite && existsSync(outDir)) {
      logger.warn(`moved this config's results aside: ${outDir} → ${moveAside(outDir)} (the products cache is kept)`);
    }
    if (existsSync(join(groupDir, 'summary.json')))
      logger.info(`${groupDir} holds results of an older oodkit layout (summary, tables, report at its top); left as they are`);
    await saveResolvedConfig(outDir, config);
    const trainings = session.plan.byStage.train;
    session.emit({
      type: 'plan',
      trainings: trainings.length,
      evaluations: trainings.reduce((n, c) => n + postprocessorsOf(session, c.model!).length, 0),
    });
    let result: BenchResult | undefined;
    for (const cell of session.plan.cells) {
      const outcome = await runBenchCell(session, cell);
      if (outcome.error !== undefined) {
        // A stop request, a config or usage mistake, a failed summary or the caller's event handler
        // failing ends the run. Any other failure (a training that diverged, a cell's data or code
        // failing) is a result of that cell, as under the launchers: it is recorded, the cells that
        // need it fail naming it, the rest run on, and the summary reports them (failures.json; the
        // command exits 1).
        const fatal =
          outcome.state === 'interrupted' ||
          cell.stage === 'summary' ||
          isObserverError(outcome.error) ||
          outcome.error instanceof ConfigError ||
          outcome.error instanceof UsageError;
        if (fatal) throw outcome.error;
        if (!(outcome.error instanceof CellDependencyError))
          logger.error(`cell ${cell.id} failed (the other cells go on): ${oneLine(errorMessage(outcome.error))}`);
      }
      if (cell.stage === 'summary') result = outcome.result;
    }
    return result!;
  } finally {
    await group.release().catch((error: Error) => logger.warn(`releasing the results-folder lock: ${error.message}`));
  }
}

export interface CellOutcome {
  readonly state: CellState;
  readonly cached: boolean;
  readonly error?: unknown;
  /** The summary cell's result. */
  readonly result?: BenchResult;
}

/** A dependency that is not done: the cell fails with this instead of doing the dependency's work. */
export class CellDependencyError extends OodkitError {
  constructor(
    message: string,
    /** The cell that failed first on the path to this one. */
    readonly blockedBy: string,
  ) {
    super(message);
  }
}

/**
 * Runs one cell of the session's plan and records its state in `<results>/cells/<id>.json` (running,
 * done, failed with the reason, interrupted). A cell whose products exist finishes at once; a cell
 * whose dependencies are not done fails naming them (the summary runs regardless and reports).
 */
export async function runBenchCell(session: BenchSession, cell: PlannedCell): Promise<CellOutcome> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const seconds = () => Math.round((performance.now() - t0) / 10) / 100;
  await writeCellStatus(session.outDir, { id: cell.id, state: 'running', startedAt });
  try {
    if (cell.stage !== 'summary') checkDependencies(session, cell);
    let cached = false;
    let extra: Pick<CellStatus, 'failures' | 'resumedFrom'> = {};
    let result: BenchResult | undefined;
    switch (cell.stage) {
      case 'generator':
        cached = (await generatorCell(session, cell)).cached;
        break;
      case 'train': {
        const trained = await trainCell(session, cell.model!);
        cached = trained.cached;
        if (trained.resumedFrom) extra = { resumedFrom: trained.resumedFrom };
        break;
      }
      case 'features':
        cached = await featuresCell(session, cell.model!);
        break;
      case 'eval': {
        const evaluated = await evalCell(session, cell.model!);
        cached = evaluated.cached;
        if (evaluated.failures.length > 0) extra = { failures: evaluated.failures };
        break;
      }
      case 'quality':
        cached = (await qualityCell(session)).cached;
        break;
      case 'summary':
        result = await summaryCell(session);
        cached = false;
        if (result.failures.length > 0)
          extra = { failures: result.failures.map((f) => ({ postprocessor: `${f.cell} ${f.postprocessor}`, message: f.message })) };
        break;
    }
    const failed = extra.failures !== undefined && cell.stage === 'eval';
    await writeCellStatus(session.outDir, {
      id: cell.id,
      state: failed ? 'failed' : 'done',
      ...(failed ? { reason: extra.failures!.map((f) => `${f.postprocessor}: ${f.message}`).join('; ') } : {}),
      ...extra,
      startedAt,
      finishedAt: new Date().toISOString(),
      seconds: seconds(),
      cached,
    });
    return { state: failed ? 'failed' : 'done', cached, ...(result ? { result } : {}) };
  } catch (error) {
    const interrupted = error instanceof TrainingInterruptedError || (session.stopSignal?.aborted ?? false);
    const reason = oneLine(errorMessage(error));
    await writeCellStatus(session.outDir, {
      id: cell.id,
      state: interrupted ? 'interrupted' : 'failed',
      reason,
      ...(error instanceof CellDependencyError ? { blockedBy: error.blockedBy } : {}),
      startedAt,
      finishedAt: new Date().toISOString(),
      seconds: seconds(),
    });
    return { state: interrupted ? 'interrupted' : 'failed', cached: false, error };
  }
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** One line: a multi-line message (a ConfigError's list) joined. */
const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();

function checkDependencies(session: BenchSession, cell: PlannedCell): void {
  for (const dep of cell.deps) {
    const status = readCellStatus(session.outDir, dep);
    if (status?.state === 'done') continue;
    // Name the cell that failed first, not the chain of cells that could not run after it.
    const why =
      status === undefined
        ? 'has not run'
        : status.blockedBy !== undefined
          ? `could not run (${status.blockedBy} failed)`
          : status.state === 'failed'
            ? `failed: ${oneLine(status.reason ?? 'no reason recorded')}`
            : `is ${status.state}`;
    throw new CellDependencyError(`${cell.id} needs ${dep}, which ${why}`, status?.blockedBy ?? dep);
  }
}

/** The methods a model is scored with: its trainer's list (else bench.postprocessors). */
function postprocessorsOf(session: BenchSession, model: BenchCell): readonly BenchPostprocessor[] {
  return session.trainers.find((t) => t.name === model.trainer.name)!.postprocessors;
}

/** The training config of a model of the plan. */
function modelTrainConfig(session: BenchSession, model: BenchCell): Section {
  return cellTrainConfig(session.config, session.benchmarkSpec, model.trainer, model.seed, session.sioOf.get(model.variant)?.section);
}

interface TrainProduct {
  readonly checkpoint: string;
  readonly testAccuracy: number | null;
  readonly bestValAccuracy: number | null;
  readonly bestEpoch: number | null;
  readonly epochs: number;
}

/** A synthetic set by its generator source: made and cached the first time, read from the cache after. */
async function syntheticSet(session: BenchSession, entry: SyntheticSource, withProgress: boolean): Promise<GeneratedSet> {
  const { emit, config, registry, logger } = session;
  return generateSynthetic({
    generator: { name: entry.source.name, args: entry.source.args },
    count: entry.source.count,
    real: session.loaded.id.train,
    cacheRoot: cacheDir(config),
    ctx: { registry, logger, config },
    ...(withProgress
      ? {
          onProgress: (p: { epoch: number; step: number; steps: number; epochs: number; loss: number }) =>
            emit({
              type: 'progress',
              stage: 'generator',
              current: p.epoch + (p.step + 1) / p.steps,
              total: p.epochs,
              detail: `loss ${p.loss.toFixed(3)}`,
            }),
        }
      : {}),
  });
}

function sourceOfCell(session: BenchSession, cell: PlannedCell): SyntheticSource {
  const entry = session.syntheticSources.find((s) => s.variants.includes(cell.variants![0]!));
  if (!entry) throw new OodkitError(`${cell.id}: no generator source for variant ${cell.variants![0]}`);
  return entry;
}

async function generatorCell(session: BenchSession, cell: PlannedCell): Promise<GeneratedSet> {
  const entry = sourceOfCell(session, cell);
  const t0 = performance.now();
  const label = `generator ${entry.source.name}`;
  session.emit({ type: 'stage', stage: 'generator', label, total: 1, unit: 'epochs' });
  const set = await syntheticSet(session, entry, true);
  session.emit({ type: 'stage-end', stage: 'generator', label, cached: set.cached, seconds: (performance.now() - t0) / 1000 });
  return set;
}

/** Trains one model (or takes it from the cache: the key is the training hash). */
async function trainModel(
  session: BenchSession,
  trainConfig: Section,
  label: string,
): Promise<{ cached: boolean; result: TrainProduct; dir: string; key: string; resumedFrom?: { epoch: number; stepInEpoch: number } }> {
  const { emit, store, bench, registry, logger } = session;
  const epochs = Number((session.config.train as { epochs?: number } | undefined)?.epochs ?? 1);
  const t0 = performance.now();
  let resumedFrom: { epoch: number; stepInEpoch: number } | undefined;
  emit({ type: 'stage', stage: 'train', label: `train ${label}`, total: epochs, unit: 'epochs' });
  const trained = await store.produce<TrainProduct>('train', { hash: trainingConfigHash(trainConfig) }, async (workDir) => {
    let stepsPerEpoch = 1;
    // A work folder is this product's own: continue whatever a killed run left there.
    const summary = await runTraining(trainConfig, {
      registry,
      logger,
      resume: true,
      runDir: workDir,
      ...(session.stopSignal ? { stopSignal: session.stopSignal } : {}),
      hooks: {
        onStart: (info) => {
          stepsPerEpoch = info.stepsPerEpoch;
          if (info.resumed) {
            resumedFrom = { epoch: info.position.epoch, stepInEpoch: info.position.stepInEpoch };
            logger.info(
              `train ${label}: resumed from its checkpoint at epoch ${info.position.epoch + 1}, step ${info.position.stepInEpoch}`,
            );
          }
        },
        onStep: (s) =>
          emit({
            type: 'progress',
            stage: 'train',
            current: s.epoch + (s.step + 1) / stepsPerEpoch,
            detail: `loss ${s.loss.toFixed(4)}`,
          }),
        onEpochEnd: (e) =>
          emit({
            type: 'progress',
            stage: 'train',
            current: e.epoch + 1,
            detail: `val acc ${e.valAccuracy === null ? '–' : (100 * e.valAccuracy).toFixed(2)}`,
          }),
      },
    });
    const useBest = bench.checkpoint === 'best' && summary.bestCheckpoint !== null;
    return {
      checkpoint: useBest ? 'checkpoints/best.ckpt' : 'checkpoints/last.ckpt',
      testAccuracy: summary.testAccuracy,
      bestValAccuracy: summary.bestValAccuracy,
      bestEpoch: summary.bestEpoch,
      epochs: summary.history.length,
    };
  });
  emit({ type: 'stage-end', stage: 'train', label: `train ${label}`, cached: trained.cached, seconds: (performance.now() - t0) / 1000 });
  return { ...trained, ...(resumedFrom ? { resumedFrom } : {}) };
}

function trainCell(session: BenchSession, model: BenchCell) {
  return trainModel(session, modelTrainConfig(session, model), model.name);
}

/** The finished training of a model, or an error naming the cell that should have made it. */
function requireTrained(session: BenchSession, model: BenchCell): { result: TrainProduct; dir: string; key: string } {
  const trained = session.store.existing<TrainProduct>('train', { hash: trainingConfigHash(modelTrainConfig(session, model)) });
  if (!trained)
    throw new CellDependencyError(`the training of ${model.name} has no product in ${session.store.root}`, `train/${model.name}`);
  return trained;
}

/** The extra layers a model's feature folder holds: those its trainer's methods read. */
function modelLayers(session: BenchSession, model: BenchCell): string[] {
  return benchFeatureLayers(session.registry, postprocessorsOf(session, model));
}

function featuresSpec(session: BenchSession, model: BenchCell, trained: { result: TrainProduct; key: string }): unknown {
  const layers = modelLayers(session, model);
  // layers only when some method reads them, so single-layer products keep their cache key
  return {
    train: trained.key,
    checkpoint: trained.result.checkpoint,
    benchmark: session.benchmarkSpec,
    ...(layers.length > 0 ? { layers } : {}),
  };
}

function requireFeatures(session: BenchSession, model: BenchCell, trained: { result: TrainProduct; key: string }) {
  const features = session.store.existing<unknown>('features', featuresSpec(session, model, trained));
  if (!features)
    throw new CellDependencyError(`the features of ${model.name} have no product in ${session.store.root}`, `features/${model.name}`);
  return features;
}

async function featuresCell(session: BenchSession, model: BenchCell): Promise<boolean> {
  const { emit, store, registry, logger, loaded } = session;
  const trained = requireTrained(session, model);
  const t0 = performance.now();
  const splits = benchmarkSplits(loaded);
  const totalImages = splits.reduce((s, x) => s + x.dataset.length, 0);
  emit({ type: 'stage', stage: 'features', label: `features ${model.name}`, total: totalImages, unit: 'images' });
  const checkpointFile = join(trained.dir, trained.result.checkpoint);
  const features = await store.produce('features', featuresSpec(session, model, trained), async (workDir) => {
    const { network } = await loadTrainedNetwork(checkpointFile, registry, logger);
    try {
      const before = new Map<string, number>();
      let offset = 0;
      for (const s of splits) {
        before.set(s.name, offset);
        offset += s.dataset.length;
      }
      return await writeBenchmarkFeatures(network, loaded, workDir, {
        layers: modelLayers(session, model),
        onProgress: (p) => emit({ type: 'progress', stage: 'features', current: (before.get(p.split) ?? 0) + p.done, detail: p.split }),
      });
    } finally {
      network.dispose();
    }
  });
  emit({
    type: 'stage-end',
    stage: 'features',
    label: `features ${model.name}`,
    cached: features.cached,
    seconds: (performance.now() - t0) / 1000,
  });
  return features.cached;
}

/** What an evaluation product is keyed by: the resolved args and the grid actually searched, so a changed default or grid recomputes it. */
function evalSpec(session: BenchSession, featuresKey: string, pp: BenchPostprocessor): unknown {
  const { registry, config } = session;
  return {
    features: featuresKey,
    postprocessor: { name: pp.name, args: registry.resolveArgs('postprocessor', { name: pp.name, args: pp.args }) },
    ...(pp.layers ? { layers: pp.layers, aggregator: pp.aggregator ?? DEFAULT_AGGREGATOR } : {}),
    aps: pp.aps,
    grid: pp.aps ? apsGrid(registry, pp.name, pp.grid) : null,
    format: EVALUATION_FORMAT,
    // absent for the default evaluator, so caches written before the key was read stay valid
    ...(config.evaluator !== undefined ? { evaluator: config.evaluator } : {}),
  };
}

async function evalCell(
  session: BenchSession,
  model: BenchCell,
): Promise<{ cached: boolean; failures: { postprocessor: string; message: string }[] }> {
  const { emit, store, registry, logger, loaded, config, evaluator } = session;
  const trained = requireTrained(session, model);
  const features = requireFeatures(session, model, trained);
  const checkpointFile = join(trained.dir, trained.result.checkpoint);
  const failures: { postprocessor: string; message: string }[] = [];
  let cached = true;
  for (const pp of postprocessorsOf(session, model)) {
    const t0 = performance.now();
    emit({ type: 'stage', stage: 'eval', label: `${pp.label} ${model.name}`, total: 1, unit: 'methods' });
    let evaluated;
    try {
      evaluated = await store.produce('eval', evalSpec(session, features.key, pp), async (workDir) => {
        const result = await evaluateModel({
          source: { kind: 'trained', checkpoint: checkpointFile },
          benchmark: loaded,
          features: features.dir,
          postprocessors: [
            {
              name: pp.name,
              args: pp.args,
              aps: pp.aps,
              ...(pp.grid !== undefined ? { grid: pp.grid } : {}),
              ...(pp.layers ? { layers: pp.layers, aggregator: pp.aggregator ?? DEFAULT_AGGREGATOR } : {}),
              rng: Rng.fromSeed(model.seed).derive(`postprocessor/${pp.label}`),
              path: `bench.postprocessors.${pp.label}`,
            },
          ],
          evaluator,
          registry,
          config,
          logger,
          out: workDir,
          saveScores: true,
        });
        return evaluationToJson(result.evaluations[0]!);
      });
    } catch (error) {
      if (session.stopSignal?.aborted || isObserverError(error)) throw error;
      // One method failing on this model (e.g. a degenerate fit) must not cost the other cells.
      const message = errorMessage(error);
      failures.push({ postprocessor: pp.label, message });
      cached = false;
      emit({
        type: 'stage-end',
        stage: 'eval',
        label: `${pp.label} ${model.name}`,
        cached: false,
        seconds: (performance.now() - t0) / 1000,
      });
      emit({ type: 'cell', line: `${model.name} ${pp.label}: FAILED — ${message}` });
      continue;
    }
    const seconds = (performance.now() - t0) / 1000;
    cached &&= evaluated.cached;
    emit({ type: 'stage-end', stage: 'eval', label: `${pp.label} ${model.name}`, cached: evaluated.cached, seconds });
    const record = cellRecordOf(model, pp, evaluated.result as OodEvaluationJson, evaluated.dir, trained.result);
    emit({ type: 'cell', line: cellLine(record, evaluated.cached, seconds) });
  }
  return { cached, failures };
}

function judgeTrainConfig(session: BenchSession): Section {
  return cellTrainConfig(session.config, session.benchmarkSpec, session.judge.trainer, session.judge.seed, undefined);
}

function qualitySpec(session: BenchSession, judge: { key: string; result: TrainProduct }, set: GeneratedSet): unknown {
  return {
    judge: judge.key,
    checkpoint: judge.result.checkpoint,
    synthetic: set.cacheKey,
    benchmark: session.benchmarkSpec,
    format: GENERATOR_QUALITY_FORMAT,
  };
}

/** Every synthetic set judged by the base model (trained here if the plan does not train it). */
async function qualityCell(session: BenchSession): Promise<{ cached: boolean }> {
  const { emit, store, registry, logger, loaded, judge } = session;
  const judged = await trainModel(session, judgeTrainConfig(session), `base/baseline/s${judge.seed} (generator-quality judge)`);
  const judgeCheckpoint = join(judged.dir, judged.result.checkpoint);
  let cached = true;
  for (const entry of session.syntheticSources) {
    const set = await syntheticSet(session, entry, false);
    const t0 = performance.now();
    const label = `quality ${entry.source.name}`;
    emit({ type: 'stage', stage: 'generator', label, total: 1, unit: 'sets' });
    const measured = await store.produce('generator-quality', qualitySpec(session, judged, set), async () => {
      const { network } = await loadTrainedNetwork(judgeCheckpoint, registry, logger);
      try {
        return await measureGeneratorQuality({
          network,
          synthetic: set.dataset,
          realTest: loaded.id.test,
          realVal: loaded.id.val,
          chain: loaded.preprocess.test,
          generator: entry.source.name,
          variants: entry.variants,
          judge: { trainer: judge.trainer.name, seed: judge.seed, checkpoint: judged.result.checkpoint },
        });
      } finally {
        network.dispose();
      }
    });
    cached &&= measured.cached;
    emit({ type: 'stage-end', stage: 'generator', label, cached: measured.cached, seconds: (performance.now() - t0) / 1000 });
  }
  return { cached };
}

function cellRecordOf(
  model: BenchCell,
  pp: BenchPostprocessor,
  evaluation: OodEvaluationJson,
  evalDir: string,
  trained: TrainProduct,
): CellRecord {
  return {
    trainer: model.trainer.name,
    variant: model.variant,
    seed: model.seed,
    postprocessor: pp.label,
    evaluation,
    evalDir,
    trainAccuracy: trained.testAccuracy,
  };
}

/** Why the evaluation of `pp` on `model` has no product: its own failure, else the first cell on its path that is not done. */
function missingReason(session: BenchSession, model: BenchCell, pp: BenchPostprocessor): string {
  const evalId = `eval/${model.name}`;
  const own = readCellStatus(session.outDir, evalId)?.failures?.find((f) => f.postprocessor === pp.label);
  if (own) return oneLine(own.message);
  const generator = generatorCellOf(session.plan, model.variant);
  const path = [...(generator ? [generator] : []), `train/${model.name}`, `features/${model.name}`, evalId];
  for (const id of path) {
    if (!session.plan.byId.has(id)) continue;
    const status = readCellStatus(session.outDir, id);
    if (status === undefined) return `${id} has not run`;
    if (status.state === 'done') continue;
    return status.state === 'failed' ? `${id} failed: ${oneLine(status.reason ?? 'no reason recorded')}` : `${id} is ${status.state}`;
  }
  return `${evalId} has no product for ${pp.label}`;
}

const done = (session: BenchSession, id: string) => readCellStatus(session.outDir, id)?.state === 'done';

/**
 * The summary/report cell: every evaluation of the plan read from the product store, in plan order;
 * the ones without a product are reported as failures with the reason their cell recorded. Writes
 * summary, tables (also the SIO table, table.md), report and failures.json, and points `latest` here.
 */
async function summaryCell(session: BenchSession): Promise<BenchResult> {
  const { store, outDir, groupDir, runId, config, bench, loaded } = session;
  const cells: CellRecord[] = [];
  const failures: BenchFailure[] = [];
  for (const model of session.plan.byStage.train.map((c) => c.model!)) {
    const trained = store.existing<TrainProduct>('train', { hash: trainingConfigHash(modelTrainConfig(session, model)) });
    const features = trained && store.existing<unknown>('features', featuresSpec(session, model, trained));
    for (const pp of postprocessorsOf(session, model)) {
      const evaluated = features && store.existing<OodEvaluationJson>('eval', evalSpec(session, features.key, pp));
      if (trained && evaluated) cells.push(cellRecordOf(model, pp, evaluated.result, evaluated.dir, trained.result));
      else failures.push({ cell: model.name, postprocessor: pp.label, message: missingReason(session, model, pp) });
    }
  }
  // Made by the generator cells: these read their cached files.
  const synthetic: { entry: SyntheticSource; set: GeneratedSet }[] = [];
  for (const cell of session.plan.byStage.generator) {
    if (!done(session, cell.id)) continue;
    const entry = sourceOfCell(session, cell);
    synthetic.push({ entry, set: await syntheticSet(session, entry, false) });
  }
  const generatorQuality: GeneratorQuality[] = [];
  const judge =
    session.plan.byId.has('quality') && done(session, 'quality')
      ? store.existing<TrainProduct>('train', { hash: trainingConfigHash(judgeTrainConfig(session)) })
      : undefined;
  if (judge) {
    for (const { entry, set } of synthetic) {
      const measured = store.existing<GeneratorQuality>('generator-quality', qualitySpec(session, judge, set));
      // which variants use the set is this config's business, not part of the cached measurement
      if (measured) generatorQuality.push({ ...measured.result, variants: entry.variants });
    }
  }

  const summary = summarize(cells);
  const summaryJson = { benchmark: loaded.config.name, ...(summary.json as object), generatorQuality };
  await writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify(summaryJson, null, 2)}\n`);
  await writeFileAtomic(join(outDir, 'summary.csv'), summary.csv);
  await writeFileAtomic(join(outDir, 'results.csv'), summary.perRunCsv);
  await mkdir(join(outDir, 'tables'), { recursive: true });
  for (const table of summary.aggregated) await writeFileAtomic(join(outDir, 'tables', `${table.file}.csv`), table.csv);
  const section: SioTableSection = { benchmark: loaded.config.name, summary: { rows: summary.rows }, seeds: bench.seeds, generatorQuality };
  await writeFileAtomic(join(outDir, 'table.md'), sioTableMarkdown([section]));
  await writeFileAtomic(join(outDir, TABLE_SECTION_FILE), `${JSON.stringify(section, keepNonFinite)}\n`);
  const report = await buildReport({
    config,
    bench,
    loaded,
    cells,
    summary,
    synthetic: synthetic.map((s) => s.set),
    generatorQuality,
    roles: benchmarkRoles(loaded),
    failures,
  });
  const reportPath = join(outDir, 'report.html');
  await writeFileAtomic(reportPath, renderHtmlReport(report));
  if (failures.length > 0) await writeFileAtomic(join(outDir, 'failures.json'), `${JSON.stringify(failures, null, 2)}\n`);
  else rmSync(join(outDir, 'failures.json'), { force: true });
  pointLatest(groupDir, runId);
  if (session.setConfig) await writeBenchmarkSetTable(session.setConfig);
  return { outDir, groupDir, summary, cells, failures, reportPath, benchmark: loaded.config.name, seeds: bench.seeds, generatorQuality };
}

/** A run folder's section of the combined table (what the last benchmark's summary reads of the others). */
const TABLE_SECTION_FILE = 'table-section.json';

// A paired test of equal runs gives NaN, which JSON would turn into null.
const keepNonFinite = (_key: string, value: unknown) =>
  typeof value === 'number' && !Number.isFinite(value) ? { nonFinite: String(value) } : value;
const reviveNonFinite = (_key: string, value: unknown) =>
  value !== null && typeof value === 'object' && 'nonFinite' in value ? Number((value as { nonFinite: string }).nonFinite) : value;

/**
 * `<output_dir>/table-<config hash>.md`: the combined table of a bench.benchmarks config; with
 * `exp_name` (what `-o` sets) inside `<output_dir>/<exp_name>/`, the folder the run was told to write.
 */
export function benchmarkSetTablePath(setConfig: Section): string {
  const root = resolve(typeof setConfig.output_dir === 'string' ? setConfig.output_dir : 'results');
  const dir = typeof setConfig.exp_name === 'string' ? join(root, setConfig.exp_name) : root;
  return join(dir, `table-${benchRunId(setConfig).slice(4)}.md`);
}

/**
 * Writes the combined table once every benchmark of the set has its summary (in-process the last
 * one; with a launcher whichever summary cell ends last). Returns its path, or undefined while a
 * benchmark's summary is missing.
 */
export async function writeBenchmarkSetTable(setConfig: Section): Promise<string | undefined> {
  const sections: SioTableSection[] = [];
  for (const config of benchmarkConfigs(setConfig)) {
    const file = join(benchFolders(config, await benchmarkNameOf(config)).outDir, TABLE_SECTION_FILE);
    if (!existsSync(file)) return undefined;
    sections.push(JSON.parse(readFileSync(file, 'utf8'), reviveNonFinite) as SioTableSection);
  }
  const path = benchmarkSetTablePath(setConfig);
  await writeFileAtomic(path, sioTableMarkdown(sections));
  return path;
}

export interface BenchSetResult {
  /** One result per benchmark, in bench.benchmarks order (the config's benchmark alone without it). */
  readonly runs: readonly BenchResult[];
  /** The combined Markdown table (every benchmark's section). */
  readonly tablePath: string;
}

/**
 * `bench.benchmarks: [a, b]` runs the whole matrix on each benchmark in turn (each its own results
 * group `bench_<name>` under output_dir, its own products cache, lock and report), then writes the
 * combined table `<output_dir>/table-<config hash>.md`. Without the key: the config's benchmark, and
 * the table is its run folder's table.md.
 */
export async function runBenchmarkSet(config: Section, options: BenchRunOptions): Promise<BenchSetResult> {
  const configs = benchmarkConfigs(config);
  if (configs.length === 1 && configs[0] === config) {
    const result = await runBenchmark(config, options);
    return { runs: [result], tablePath: join(result.outDir, 'table.md') };
  }
  const runs: BenchResult[] = [];
  for (const one of configs) runs.push(await runBenchmark(one, { ...options, setConfig: config }));
  return { runs, tablePath: benchmarkSetTablePath(config) };
}

/**
 * Extra feature layers the bench's methods read from the feature folder, in first-use order: every
 * `layers:` of an entry and dknn's `layers` argument ({@link requestedFeatureLayers}); 'penultimate' is z.
 */
export function benchFeatureLayers(registry: ComponentRegistry, postprocessors: readonly BenchPostprocessor[]): string[] {
  return requestedFeatureLayers(registry, postprocessors);
}

/** Keys that do not change a benchmark's results: where they go, logging, the backend, plugin loading. */
const NON_RESULT_KEYS = ['output_dir', 'exp_name', 'log_level', 'compute', 'plugins', 'pipeline', 'launcher'];

/** `run-<12 hex>`: the hash of everything in the config that can change this benchmark's results. */
export function benchRunId(config: Readonly<Record<string, unknown>>): string {
  const spec = Object.fromEntries(Object.entries(config).filter(([key, value]) => !NON_RESULT_KEYS.includes(key) && value !== undefined));
  return `run-${hashSpec(spec).slice(0, 12)}`;
}

/** `<group>/latest` → the run folder that finished last (a relative symlink, replaced atomically). */
function pointLatest(groupDir: string, runId: string): void {
  const link = join(groupDir, 'latest');
  const temp = join(groupDir, `.latest.${process.pid}.tmp`);
  rmSync(temp, { force: true });
  if (process.platform === 'win32') symlinkSync(join(groupDir, runId), temp, 'junction');
  else symlinkSync(runId, temp, 'dir');
  renameSync(temp, link);
}

function cellLine(record: CellRecord, cached: boolean, seconds: number): string {
  const row = (name: string) => record.evaluation.rows.find((r) => r.dataset === name);
  const near = row('nearood');
  const far = row('farood');
  const f = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(2));
  return `${record.trainer}/${record.variant}/s${record.seed} ${record.postprocessor}: near AUROC ${f(near?.AUROC)} FPR@95 ${f(near?.['FPR@95'])} · far AUROC ${f(far?.AUROC)} FPR@95 ${f(far?.['FPR@95'])} · ACC ${record.evaluation.idAccuracy.toFixed(2)} PRED_ACC ${record.evaluation.predAccuracy.toFixed(2)}${cached ? ' (cached)' : ` (${seconds.toFixed(1)} s)`}`;
}
