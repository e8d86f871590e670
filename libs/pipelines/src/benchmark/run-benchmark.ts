import { existsSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  ConfigError,
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
import { loadTrainedNetwork } from '../train/restore.js';
import { runTraining, trainingConfigHash } from '../train/pipeline.js';
import {
  benchPlan,
  benchSectionSchema,
  benchTrainers,
  benchVariants,
  variantSioSection,
  type BenchPostprocessor,
  type BenchSection,
} from './bench-section.js';
import { DEFAULT_AGGREGATOR } from '@oodkit/postprocessors';
import { GENERATOR_QUALITY_FORMAT, measureGeneratorQuality, type GeneratorQuality } from './generator-quality.js';
import { limitBenchmark } from './limits.js';
import { summarize, type CellRecord } from './summary.js';
import { buildReport } from './build-report.js';
import { sioTableMarkdown } from './sio-table.js';
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

/** A synthetic set made by a generator, and the SIO variants that train on it. */
interface SyntheticSet {
  readonly generator: string;
  readonly set: GeneratedSet;
  readonly variants: string[];
}

type Section = Record<string, unknown>;

/** The training config of one cell: the run's config with this trainer, seed and variant. */
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
  const variants = benchVariants(bench);
  // Each SIO variant's sio: section (the config's, with the variant's keys over it), validated up front.
  const sioOf = new Map<string, { section: Section; parsed: SioConfig }>();
  for (const [i, variant] of variants.entries()) {
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
    const evaluator = await buildEvaluator(registry, config, { logger, rng: Rng.fromSeed(0), config });
    const plan = benchPlan(bench);
    emit({ type: 'plan', trainings: plan.trainings.length, evaluations: plan.evaluations.length });

    // One synthetic set per distinct generator source (variants that only change real_ratio share it).
    const syntheticSets: SyntheticSet[] = [];
    const setOf = new Map<string, SyntheticSet>();
    for (const [variantName, { parsed }] of sioOf) {
      if (!isGeneratorSource(parsed.synthetic)) continue;
      const source = parsed.synthetic;
      const identity = JSON.stringify([source.name, source.args, source.count]);
      const known = setOf.get(identity);
      if (known) {
        known.variants.push(variantName);
        continue;
      }
      const t0 = performance.now();
      const label = `generator ${source.name}`;
      emit({ type: 'stage', stage: 'generator', label, total: 1, unit: 'epochs' });
      const set = await generateSynthetic({
        generator: { name: source.name, args: source.args },
        count: source.count,
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
      emit({ type: 'stage-end', stage: 'generator', label, cached: set.cached, seconds: (performance.now() - t0) / 1000 });
      const entry = { generator: source.name, set, variants: [variantName] };
      setOf.set(identity, entry);
      syntheticSets.push(entry);
    }

    /** Trains one model (or takes it from the cache: the key is the training hash). */
    const train = async (trainConfig: Section, cellName: string) => {
      const epochs = Number((config.train as { epochs?: number } | undefined)?.epochs ?? 1);
      const t0 = performance.now();
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
      return trained;
    };

    const cells: CellRecord[] = [];
    const failures: BenchFailure[] = [];
    for (const trainer of trainers) {
      for (const variant of variants) {
        for (const seed of bench.seeds) {
          const cellName = `${trainer.name}/${variant.name}/s${seed}`;
          const trainConfig = cellTrainConfig(config, benchmarkSpec, trainer, seed, sioOf.get(variant.name)?.section);
          const trained = await train(trainConfig, cellName);

          let t0 = performance.now();
          const splits = benchmarkSplits(loaded);
          const layers = benchFeatureLayers(registry, trainer.postprocessors);
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

          for (const pp of trainer.postprocessors) {
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
                  // absent for the default evaluator, so caches written before the key was read stay valid
                  ...(config.evaluator !== undefined ? { evaluator: config.evaluator } : {}),
                },
                async (workDir) => {
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
                        rng: Rng.fromSeed(seed).derive(`postprocessor/${pp.label}`),
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
              variant: variant.name,
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

    const generatorQuality: GeneratorQuality[] = [];
    if (bench.generator_quality && syntheticSets.length > 0) {
      // The judge is trained on real data only: the base trainer (as configured here, if listed) at the
      // first seed, without SIO — the same training hash as base/baseline/s<seed>, so usually cached.
      const base = trainers.find((t) => t.name === 'base') ?? { name: 'base', args: {} };
      const judgeSeed = Math.min(...bench.seeds);
      const judge = await train(
        cellTrainConfig(config, benchmarkSpec, base, judgeSeed, undefined),
        `base/baseline/s${judgeSeed} (generator-quality judge)`,
      );
      const judgeCheckpoint = join(judge.dir, judge.result.checkpoint);
      for (const entry of syntheticSets) {
        const t0 = performance.now();
        const label = `quality ${entry.generator}`;
        emit({ type: 'stage', stage: 'generator', label, total: 1, unit: 'sets' });
        const measured = await store.produce(
          'generator-quality',
          {
            judge: judge.key,
            checkpoint: judge.result.checkpoint,
            synthetic: entry.set.cacheKey,
            benchmark: benchmarkSpec,
            format: GENERATOR_QUALITY_FORMAT,
          },
          async () => {
            const { network } = await loadTrainedNetwork(judgeCheckpoint, registry, logger);
            try {
              return await measureGeneratorQuality({
                network,
                synthetic: entry.set.dataset,
                realTest: loaded.id.test,
                realVal: loaded.id.val,
                chain: loaded.preprocess.test,
                generator: entry.generator,
                variants: entry.variants,
                judge: { trainer: base.name, seed: judgeSeed, checkpoint: judge.result.checkpoint },
              });
            } finally {
              network.dispose();
            }
          },
        );
        emit({ type: 'stage-end', stage: 'generator', label, cached: measured.cached, seconds: (performance.now() - t0) / 1000 });
        // which variants use the set is this config's business, not part of the cached measurement
        generatorQuality.push({ ...measured.result, variants: entry.variants });
      }
    }

    const summary = summarize(cells);
    const summaryJson = { benchmark: loaded.config.name, ...(summary.json as object), generatorQuality };
    await writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify(summaryJson, null, 2)}\n`);
    await writeFileAtomic(join(outDir, 'summary.csv'), summary.csv);
    await writeFileAtomic(join(outDir, 'results.csv'), summary.perRunCsv);
    await mkdir(join(outDir, 'tables'), { recursive: true });
    for (const table of summary.aggregated) await writeFileAtomic(join(outDir, 'tables', `${table.file}.csv`), table.csv);
    await writeFileAtomic(
      join(outDir, 'table.md'),
      sioTableMarkdown([{ benchmark: loaded.config.name, summary, seeds: bench.seeds, generatorQuality }]),
    );
    const report = await buildReport({
      config,
      bench,
      loaded,
      cells,
      summary,
      synthetic: syntheticSets.map((s) => s.set),
      generatorQuality,
      roles: benchmarkRoles(loaded),
      failures,
    });
    const reportPath = join(outDir, 'report.html');
    await writeFileAtomic(reportPath, renderHtmlReport(report));
    if (failures.length > 0) await writeFileAtomic(join(outDir, 'failures.json'), `${JSON.stringify(failures, null, 2)}\n`);
    else rmSync(join(outDir, 'failures.json'), { force: true });
    pointLatest(groupDir, runId);
    return { outDir, groupDir, summary, cells, failures, reportPath, benchmark: loaded.config.name, seeds: bench.seeds, generatorQuality };
  } finally {
    await group.release().catch((error: Error) => logger.warn(`releasing the results-folder lock: ${error.message}`));
  }
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
  const bench = benchSectionSchema.parse(config.bench);
  if (!bench.benchmarks) {
    const result = await runBenchmark(config, options);
    return { runs: [result], tablePath: join(result.outDir, 'table.md') };
  }
  const { benchmarks: _list, ...rest } = config.bench as Section;
  const runs: BenchResult[] = [];
  for (const benchmark of bench.benchmarks) runs.push(await runBenchmark({ ...config, benchmark, bench: rest }, options));
  const tablePath = join(
    resolve(typeof config.output_dir === 'string' ? config.output_dir : 'results'),
    `table-${benchRunId(config).slice(4)}.md`,
  );
  await writeFileAtomic(
    tablePath,
    sioTableMarkdown(
      runs.map((r) => ({ benchmark: r.benchmark, summary: r.summary, seeds: r.seeds, generatorQuality: r.generatorQuality })),
    ),
  );
  return { runs, tablePath };
}

/**
 * Extra feature layers the bench's methods read from the feature folder, in first-use order: every
 * `layers:` of an entry and dknn's `layers` argument ({@link requestedFeatureLayers}); 'penultimate' is z.
 */
export function benchFeatureLayers(registry: ComponentRegistry, postprocessors: readonly BenchPostprocessor[]): string[] {
  return requestedFeatureLayers(registry, postprocessors);
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
