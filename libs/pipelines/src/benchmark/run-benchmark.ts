import { existsSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  ConfigError,
  PENULTIMATE_LAYER,
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
import {
  EVALUATION_FORMAT,
  FeatureFolder,
  FeatureFolderSource,
  NetworkSource,
  evaluateOod,
  apsGrid,
  evaluationToJson,
  writeOodEvaluation,
  type FeatureSource,
  type OodEvaluationJson,
} from '@oodkit/evaluators';
import { generateSynthetic, isGeneratorSource, parseSioConfig, type GeneratedSet } from '@oodkit/sio';
import { ProductStore, hashSpec } from '../store/product-store.js';
import { moveAside, openRunFolder, type RunFolderFlags } from '../store/run-folder.js';
import { benchmarkRoles, benchmarkSplits, datasetBatches, writeBenchmarkFeatures } from '../features/extract.js';
import { loadTrainedNetwork } from '../train/restore.js';
import { runTraining, trainingConfigHash } from '../train/pipeline.js';
import {
  benchPlan,
  benchPostprocessors,
  benchSectionSchema,
  benchTrainers,
  type BenchPostprocessor,
  type BenchSection,
} from './bench-section.js';
import { DEFAULT_AGGREGATOR, buildPostprocessor } from '@oodkit/postprocessors';
import { limitBenchmark } from './limits.js';
import { summarize, type CellRecord } from './summary.js';
import { buildReport } from './build-report.js';
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
}

type Section = Record<string, unknown>;

/** The training config of one cell: the run's config with this trainer, seed and variant. */
function cellTrainConfig(
  config: Section,
  benchmark: Section,
  trainer: { name: string; args: Record<string, unknown> },
  seed: number,
  sio: boolean,
): Section {
  const { bench: _bench, pipeline: _pipeline, sio: sioSection, ...rest } = config;
  return { ...rest, benchmark, trainer, seed, ...(sio ? { sio: sioSection } : {}) };
}

/**
 * OpenOOD's benchmark stage as one resumable job: (generator) → for every trainer × variant × seed:
 * train → extract features → evaluate every postprocessor → aggregate over seeds → tables + report.
 * Every product is cached under `<group>/products/` by the hash of what made it, so a re-run skips
 * finished work and a killed run resumes (training from its last checkpoint); each config writes its
 * summary, tables and report to its own `<group>/run-<config hash>/`, and `<group>/latest` points to
 * the last one finished. `resume` changes nothing (a benchmark always continues); `overwrite` moves
 * this config's results folder aside first (the products cache stays).
 */
export async function runBenchmark(config: Section, options: BenchRunOptions): Promise<BenchResult> {
  const logger = options.logger ?? silentLogger;
  const emit = options.onEvent ?? (() => undefined);
  const { registry } = options;
  if (options.resume && options.overwrite)
    throw new UsageError('--resume and --overwrite exclude each other: continue the run or start it over');
  const bench: BenchSection = benchSectionSchema.parse(config.bench);
  const trainers = benchTrainers(bench);
  const postprocessors = benchPostprocessors(bench);
  const sio = parseSioConfig(config.sio);
  if (bench.variants.includes('sio') && !sio) {
    throw new ConfigError([
      {
        path: 'sio',
        message: "bench.variants includes 'sio' but the config has no enabled sio block (sio: {enabled: true, synthetic: ...})",
      },
    ]);
  }

  const buildCtx = { logger, rng: Rng.fromSeed(0), config };
  const rawBenchmark = (await resolveBenchmarkValue(config.benchmark)) as Section;
  const fullBenchmark = await loadBenchmark(rawBenchmark, registry, buildCtx);
  const benchmarkSpec = limitBenchmark(rawBenchmark, fullBenchmark, bench.limits);
  const loaded: LoadedBenchmark = bench.limits ? await loadBenchmark(benchmarkSpec, registry, buildCtx) : fullBenchmark;

  const groupDir = resolve(
    typeof config.output_dir === 'string' ? config.output_dir : 'results',
    typeof config.exp_name === 'string' ? config.exp_name : `bench_${loaded.config.name}`,
  );
  const runId = benchRunId(config);
  const outDir = join(groupDir, runId);
  // One lock for the group: its products are shared by every config's run folder. Re-running a config
  // continues it (its folder is named by the config hash, every product is cached by hash).
  const group = await openRunFolder(groupDir, { what: 'benchmark results', logger, continueExisting: true });
  try {
    if (options.overwrite && existsSync(outDir)) {
      logger.warn(`moved this config's results aside: ${outDir} → ${moveAside(outDir)} (the products cache is kept)`);
    }
    if (existsSync(join(groupDir, 'summary.json')))
      logger.info(`${groupDir} holds results of an older oodkit layout (summary, tables, report at its top); left as they are`);
    await saveResolvedConfig(outDir, config);
    await initCompute({ ...computeOptionsFrom(config.compute), logger });
    const store = new ProductStore(join(groupDir, 'products'));
    const plan = benchPlan(bench);
    emit({ type: 'plan', trainings: plan.trainings.length, evaluations: plan.evaluations.length });

    let synthetic: GeneratedSet | undefined;
    if (sio && bench.variants.includes('sio') && isGeneratorSource(sio.synthetic)) {
      const t0 = performance.now();
      emit({ type: 'stage', stage: 'generator', label: `generator ${sio.synthetic.name}`, total: 1, unit: 'epochs' });
      synthetic = await generateSynthetic({
        generator: { name: sio.synthetic.name, args: sio.synthetic.args },
        count: sio.synthetic.count,
        real: loaded.id.train,
        cacheRoot: cacheDir(config),
        ctx: { registry, logger, config },
        onProgress: (p) =>
          emit({
            type: 'progress',
            stage: 'generator',
            current: p.epoch + (p.step + 1) / p.steps,
            total: p.epochs,
            detail: `loss ${p.loss.toFixed(3)}`,
          }),
      });
      emit({
        type: 'stage-end',
        stage: 'generator',
        label: `generator ${sio.synthetic.name}`,
        cached: synthetic.cached,
        seconds: (performance.now() - t0) / 1000,
      });
    }

    const cells: CellRecord[] = [];
    const failures: BenchFailure[] = [];
    for (const trainer of trainers) {
      for (const variant of bench.variants) {
        for (const seed of bench.seeds) {
          const cellName = `${trainer.name}/${variant}/s${seed}`;
          const trainConfig = cellTrainConfig(config, benchmarkSpec, trainer, seed, variant === 'sio');
          const epochs = Number((config.train as { epochs?: number } | undefined)?.epochs ?? 1);

          let t0 = performance.now();
          emit({ type: 'stage', stage: 'train', label: `train ${cellName}`, total: epochs, unit: 'epochs' });
          const trained = await store.produce('train', { hash: trainingConfigHash(trainConfig) }, async (workDir) => {
            let stepsPerEpoch = 1;
            // A work folder is this product's own: continue whatever a killed run left there.
            const summary = await runTraining(trainConfig, {
              registry,
              logger,
              resume: true,
              runDir: workDir,
              hooks: {
                onStart: (info) => {
                  stepsPerEpoch = info.stepsPerEpoch;
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
          emit({
            type: 'stage-end',
            stage: 'train',
            label: `train ${cellName}`,
            cached: trained.cached,
            seconds: (performance.now() - t0) / 1000,
          });

          t0 = performance.now();
          const splits = benchmarkSplits(loaded);
          const layers = benchFeatureLayers(registry, postprocessors);
          const totalImages = splits.reduce((s, x) => s + x.dataset.length, 0);
          emit({ type: 'stage', stage: 'features', label: `features ${cellName}`, total: totalImages, unit: 'images' });
          const checkpointFile = join(trained.dir, trained.result.checkpoint);
          const features = await store.produce(
            'features',
            // layers only when some method reads them, so single-layer products keep their cache key
            {
              train: trained.key,
              checkpoint: trained.result.checkpoint,
              benchmark: benchmarkSpec,
              ...(layers.length > 0 ? { layers } : {}),
            },
            async (workDir) => {
              const { network } = await loadTrainedNetwork(checkpointFile, registry, logger);
              try {
                const before = new Map<string, number>();
                let offset = 0;
                for (const s of splits) {
                  before.set(s.name, offset);
                  offset += s.dataset.length;
                }
                return await writeBenchmarkFeatures(network, loaded, workDir, {
                  layers,
                  onProgress: (p) =>
                    emit({ type: 'progress', stage: 'features', current: (before.get(p.split) ?? 0) + p.done, detail: p.split }),
                });
              } finally {
                network.dispose();
              }
            },
          );
          emit({
            type: 'stage-end',
            stage: 'features',
            label: `features ${cellName}`,
            cached: features.cached,
            seconds: (performance.now() - t0) / 1000,
          });

          let folder: FeatureFolder | undefined;
          for (const pp of postprocessors) {
            t0 = performance.now();
            emit({ type: 'stage', stage: 'eval', label: `${pp.label} ${cellName}`, total: 1, unit: 'methods' });
            let evaluated;
            try {
              evaluated = await store.produce(
                'eval',
                {
                  features: features.key,
                  // resolved args and the grid actually searched, so a changed default or grid recomputes the cell
                  postprocessor: { name: pp.name, args: registry.resolveArgs('postprocessor', { name: pp.name, args: pp.args }) },
                  ...(pp.layers ? { layers: pp.layers, aggregator: pp.aggregator ?? DEFAULT_AGGREGATOR } : {}),
                  aps: pp.aps,
                  grid: pp.aps ? apsGrid(registry, pp.name, pp.grid) : null,
                  format: EVALUATION_FORMAT,
                },
                async (workDir) => {
                  const postprocessor = await buildPostprocessor(
                    registry,
                    pp,
                    { logger, rng: Rng.fromSeed(seed).derive(`postprocessor/${pp.label}`), config },
                    `bench.postprocessors.${pp.label}`,
                  );
                  let network: Awaited<ReturnType<typeof loadTrainedNetwork>>['network'] | undefined;
                  try {
                    let source: FeatureSource;
                    if (postprocessor.needsNetwork) {
                      network = (await loadTrainedNetwork(checkpointFile, registry, logger)).network;
                      const byName = new Map(splits.map((s) => [s.name, s]));
                      const roles = (folder ??= await FeatureFolder.open(features.dir)).splits;
                      source = new NetworkSource(network, roles, (name) => {
                        const s = byName.get(name)!;
                        return datasetBatches(s.dataset, loaded.preprocess.test, 500, s.ood ? -1 : undefined);
                      });
                    } else {
                      source = new FeatureFolderSource((folder ??= await FeatureFolder.open(features.dir)));
                    }
                    const evaluation = await evaluateOod({
                      postprocessor,
                      source,
                      apsGrid: pp.aps ? apsGrid(registry, pp.name, pp.grid) : undefined,
                    });
                    await writeOodEvaluation(workDir, evaluation, { saveScores: true });
                    return evaluationToJson(evaluation);
                  } finally {
                    network?.dispose();
                    (postprocessor as { dispose?: () => void }).dispose?.();
                  }
                },
              );
            } catch (error) {
              // One method failing on this model (e.g. a degenerate fit) must not cost the other cells.
              const message = error instanceof Error ? error.message : String(error);
              failures.push({ cell: cellName, postprocessor: pp.label, message });
              emit({
                type: 'stage-end',
                stage: 'eval',
                label: `${pp.label} ${cellName}`,
                cached: false,
                seconds: (performance.now() - t0) / 1000,
              });
              emit({ type: 'cell', line: `${cellName} ${pp.label}: FAILED — ${message}` });
              continue;
            }
            const seconds = (performance.now() - t0) / 1000;
            emit({ type: 'stage-end', stage: 'eval', label: `${pp.label} ${cellName}`, cached: evaluated.cached, seconds });
            const record: CellRecord = {
              trainer: trainer.name,
              variant,
              seed,
              postprocessor: pp.label,
              evaluation: evaluated.result as OodEvaluationJson,
              evalDir: evaluated.dir,
              trainAccuracy: trained.result.testAccuracy,
            };
            cells.push(record);
            emit({ type: 'cell', line: cellLine(record, evaluated.cached, seconds) });
          }
        }
      }
    }

    const summary = summarize(cells);
    await writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify(summary.json, null, 2)}\n`);
    await writeFileAtomic(join(outDir, 'summary.csv'), summary.csv);
    await writeFileAtomic(join(outDir, 'results.csv'), summary.perRunCsv);
    await mkdir(join(outDir, 'tables'), { recursive: true });
    for (const table of summary.aggregated) await writeFileAtomic(join(outDir, 'tables', `${table.file}.csv`), table.csv);
    const report = await buildReport({ config, bench, loaded, cells, summary, synthetic, roles: benchmarkRoles(loaded), failures });
    const reportPath = join(outDir, 'report.html');
    await writeFileAtomic(reportPath, renderHtmlReport(report));
    if (failures.length > 0) await writeFileAtomic(join(outDir, 'failures.json'), `${JSON.stringify(failures, null, 2)}\n`);
    else rmSync(join(outDir, 'failures.json'), { force: true });
    pointLatest(groupDir, runId);
    return { outDir, groupDir, summary, cells, failures, reportPath };
  } finally {
    await group.release().catch((error: Error) => logger.warn(`releasing the results-folder lock: ${error.message}`));
  }
}

/**
 * Extra feature layers the bench's methods read, in first-use order: every `layers:` of an entry and
 * every `layers` argument of a method that takes one (dknn, mds_ensemble); 'penultimate' is z.
 */
export function benchFeatureLayers(registry: ComponentRegistry, postprocessors: readonly BenchPostprocessor[]): string[] {
  const layers = new Set<string>();
  for (const pp of postprocessors) {
    for (const layer of pp.layers ?? []) layers.add(layer);
    const args = registry.resolveArgs('postprocessor', { name: pp.name, args: pp.args }) as { layers?: unknown };
    if (Array.isArray(args.layers)) for (const layer of args.layers) if (typeof layer === 'string') layers.add(layer);
  }
  layers.delete(PENULTIMATE_LAYER);
  return [...layers];
}

/** Keys that do not change a benchmark's results: where they go, logging, the backend, plugin loading. */
const NON_RESULT_KEYS = ['output_dir', 'exp_name', 'log_level', 'compute', 'plugins', 'pipeline'];

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
