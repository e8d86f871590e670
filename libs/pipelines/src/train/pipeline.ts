import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import {
  ConfigError,
  Rng,
  defineComponent,
  saveResolvedConfig,
  silentLogger,
  type Classifier,
  type ComponentRegistry,
  type Logger,
  type Trainer,
} from '@oodkit/core';
import { computeOptionsFrom, initCompute } from '@oodkit/compute';
import { OutlierStream, buildDataset, cacheDir, datasetSectionSchema, plainStream, type TrainStream } from '@oodkit/data';
import {
  generateSynthetic,
  isGeneratorSource,
  loadSyntheticPair,
  parseSioConfig,
  sioStream,
  stableStringify,
  type GeneratorProgress,
} from '@oodkit/sio';
import { openRunFolder, type RunFolderFlags } from '../store/run-folder.js';
import { BaseRecorder, baseRecorderArgs } from '../recorders/base-recorder.js';
import type { TrainRecorder } from '../recorders/recorder.js';
import { readCheckpointMeta } from './checkpoint.js';
import { buildTrainData } from './data.js';
import { checkpointPaths, evaluateAccuracy, resumeMismatch, trainLoop, type TrainHooks, type TrainResult } from './loop.js';

/** The `train:` config section: how long and in what batches to train, where outliers come from. */
export const trainSectionSchema = z
  .strictObject({
    epochs: z.number().int().positive().default(100).describe('training epochs (the cosine schedule spans all of them)'),
    batch_size: z.number().int().positive().default(128),
    val_batch_size: z.number().int().positive().default(500),
    checkpoint_every: z.number().int().min(0).default(0).describe('also checkpoint every N steps inside an epoch (0: epoch ends only)'),
    outlier: datasetSectionSchema
      .optional()
      .describe("outlier dataset for the outlier-exposure trainers (oe, mixoe); preprocessed with the benchmark's test chain"),
    outlier_batch_size: z.number().int().positive().optional().describe('default: 2 × batch_size, as the reference'),
  })
  .prefault({});
export type TrainSection = z.infer<typeof trainSectionSchema>;

/**
 * Top-level keys that never change what training computes: where results go, how a run is logged
 * or computed, what is evaluated afterwards. They stay out of the training hash, so adding a
 * postprocessor, a plugin, report settings or another output folder never invalidates a trained
 * model. Every other key is in (also unknown keys a plugin's section may add: they might change
 * training). `compute` is out because every backend runs the same training (resuming on another
 * backend is allowed, docs/decisions.md).
 */
export const NON_TRAINING_KEYS: ReadonlySet<string> = new Set([
  'output_dir',
  'exp_name',
  'log_level',
  'compute',
  'pipeline',
  'plugins',
  'cache_dir',
  'postprocessor',
  'evaluator',
  'recorder',
  'bench',
  'launcher',
  // Shared through @{...} references, which are resolved into the sections that use them.
  'dataset',
  'generator',
]);

/** Keys of a benchmark declaration that training reads; the OOD sets, names and descriptions are not. */
const TRAINING_BENCHMARK_KEYS = ['num_classes', 'image_shape', 'data_dir', 'normalization', 'preprocessor', 'id'];
/** `train.checkpoint_every` only decides when `last` is written; resume is exact from any step. */
const NON_TRAINING_TRAIN_KEYS = ['checkpoint_every'];

/**
 * The part of a resolved config that determines the trained weights (and the train split's test
 * accuracy): the training hash is taken over exactly this.
 */
export function trainingSpec(config: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (NON_TRAINING_KEYS.has(key) || value === undefined) continue;
    if (key === 'benchmark' && value && typeof value === 'object' && !Array.isArray(value)) {
      const b = value as Record<string, unknown>;
      spec.benchmark = Object.fromEntries(TRAINING_BENCHMARK_KEYS.filter((k) => b[k] !== undefined).map((k) => [k, b[k]]));
    } else if (key === 'train' && value && typeof value === 'object') {
      spec.train = Object.fromEntries(Object.entries(value).filter(([k]) => !NON_TRAINING_TRAIN_KEYS.includes(k)));
    } else if (key === 'sio') {
      // A disabled sio block trains exactly the baseline.
      if (parseSioConfig(value)) spec.sio = value;
    } else {
      spec[key] = value;
    }
  }
  return spec;
}

/** sha256 (16 hex) of {@link trainingSpec}: checkpoints, run-folder names and bench products carry it. */
export function trainingConfigHash(config: Readonly<Record<string, unknown>>): string {
  return createHash('sha256')
    .update(stableStringify(trainingSpec(config)))
    .digest('hex')
    .slice(0, 16);
}

function sectionName(section: unknown): string {
  return typeof section === 'string' ? section : ((section as { name?: string } | undefined)?.name ?? '?');
}

/**
 * `<output_dir>/<exp_name>`; without exp_name `<benchmark>_<network>_<trainer>[_sio]_s<seed>-<hash8>`,
 * the first 8 hex of the training hash, so runs with other hyperparameters get other folders.
 */
export function trainRunDir(config: Readonly<Record<string, unknown>>, benchmarkName: string): string {
  const base = typeof config.output_dir === 'string' ? config.output_dir : 'results';
  const sio = parseSioConfig(config.sio) ? '_sio' : '';
  const name =
    typeof config.exp_name === 'string'
      ? config.exp_name
      : `${benchmarkName}_${sectionName(config.network)}_${sectionName(config.trainer)}${sio}_s${Number(config.seed ?? 0)}-${trainingConfigHash(config).slice(0, 8)}`;
  return resolve(base, name);
}

export interface TrainRunOptions extends RunFolderFlags {
  readonly registry: ComponentRegistry;
  readonly logger?: Logger;
  /** Overrides the run folder derived from output_dir/exp_name. */
  readonly runDir?: string;
  readonly hooks?: TrainHooks;
  readonly onGenerator?: (p: GeneratorProgress) => void;
  /** Stop at the next step with a checkpoint (see trainLoop's stopSignal). */
  readonly stopSignal?: AbortSignal;
}

export interface TrainRunSummary extends TrainResult {
  readonly runDir: string;
  readonly configHash: string;
  readonly stream: string;
  readonly testAccuracy: number | null;
}

/**
 * The whole training run from a resolved config: compute backend, ID data and preprocessing, network,
 * trainer, the training stream (plain or SIO: the trainer never knows), the outlier stream for the
 * OE family, then `trainLoop`. Writes config.yml into the run folder; the recorder (`recorder:`, default
 * `base`) writes checkpoints, train.json and, for `jsonl`, the per-step log.
 */
export async function runTraining(config: Readonly<Record<string, unknown>>, options: TrainRunOptions): Promise<TrainRunSummary> {
  const logger = options.logger ?? silentLogger;
  const { registry } = options;
  const parsedTrain = trainSectionSchema.safeParse(config.train);
  if (!parsedTrain.success)
    throw new ConfigError(parsedTrain.error.issues.map((i) => ({ path: ['train', ...i.path].join('.'), message: i.message })));
  const train = parsedTrain.data;
  const sio = parseSioConfig(config.sio);
  if (config.network === undefined)
    throw new ConfigError([{ path: 'network', message: 'required: the network to train, e.g. {name: lenet}' }]);
  if (config.trainer === undefined) throw new ConfigError([{ path: 'trainer', message: 'required: the trainer, e.g. {name: base}' }]);
  const seed = Number(config.seed ?? 0);
  const rng = Rng.fromSeed(seed);
  await initCompute({ ...computeOptionsFrom(config.compute), logger });

  const data = await buildTrainData(config, { registry, logger, rng: rng.derive('data') });
  const runDir = options.runDir ?? trainRunDir(config, data.benchmark.name ?? 'benchmark');
  const configHash = trainingConfigHash(config);
  const folder = await openRunFolder(runDir, { what: 'training run', resume: options.resume, overwrite: options.overwrite, logger });
  try {
    // Checked before anything is written: a refused resume must leave the folder's config.yml alone.
    if (options.resume) await checkResumable(runDir, configHash, logger);
    await saveResolvedConfig(runDir, config as Record<string, unknown>);
    return await trainInFolder(config, options, { data, runDir, configHash, train, sio, seed, rng });
  } finally {
    await folder.release().catch((error: Error) => logger.warn(`releasing the lock of ${runDir}: ${error.message}`));
  }
}

/** A resume under another training config is refused, naming both hashes. */
async function checkResumable(runDir: string, configHash: string, logger: Logger): Promise<void> {
  const last = checkpointPaths(runDir).last;
  if (!existsSync(last)) {
    logger.info(`nothing to resume in ${runDir} (no checkpoints/last.ckpt yet); starting the run`);
    return;
  }
  const meta = await readCheckpointMeta(last);
  if (meta.configHash !== configHash) throw resumeMismatch(last, meta.configHash, configHash);
}

interface TrainSetup {
  readonly data: Awaited<ReturnType<typeof buildTrainData>>;
  readonly runDir: string;
  readonly configHash: string;
  readonly train: TrainSection;
  readonly sio: ReturnType<typeof parseSioConfig>;
  readonly seed: number;
  readonly rng: Rng;
}

async function trainInFolder(
  config: Readonly<Record<string, unknown>>,
  options: TrainRunOptions,
  { data, runDir, configHash, train, sio, seed, rng }: TrainSetup,
): Promise<TrainRunSummary> {
  const logger = options.logger ?? silentLogger;
  const { registry } = options;
  const base = { logger, config };
  const trainer = await registry.build<Trainer>('trainer', config.trainer as never, { ...base, rng: rng.derive('trainer') }, 'trainer');
  // What the checkpoint records, so feature extraction rebuilds the network the trainer trained.
  const runConfig = withNetworkWrapper(config, trainer.networkWrapper);
  if (runConfig !== config) await saveResolvedConfig(runDir, runConfig as Record<string, unknown>);

  const network = await registry.build<Classifier>(
    'network',
    runConfig.network as never,
    { ...base, rng: rng.derive('network') },
    'network',
  );
  const [h, w, c] = data.train.imageShape;
  if (network.numClasses !== data.train.numClasses) {
    throw new ConfigError([
      {
        path: 'network.args.num_classes',
        message: `network has ${network.numClasses} classes, the training set ${data.train.name} has ${data.train.numClasses}`,
      },
    ]);
  }

  const streamRng = rng.derive('train-stream');
  let stream: TrainStream;
  if (sio) {
    let synthetic;
    if (isGeneratorSource(sio.synthetic)) {
      const generated = await generateSynthetic({
        generator: { name: sio.synthetic.name, args: sio.synthetic.args },
        count: sio.synthetic.count,
        real: data.train,
        cacheRoot: cacheDir(config),
        ctx: { registry, logger, config },
        onProgress: options.onGenerator,
      });
      synthetic = generated.dataset;
    } else {
      synthetic = await loadSyntheticPair(resolve(sio.synthetic.images), resolve(sio.synthetic.labels), data.train, {
        resize: sio.resize,
        name: 'synthetic',
      });
    }
    stream = sioStream({ real: data.train, synthetic, sio, batchSize: train.batch_size, preprocess: data.trainChain, rng: streamRng });
  } else {
    stream = plainStream({ dataset: data.train, batchSize: train.batch_size, preprocess: data.trainChain, rng: streamRng });
  }

  let outliers: OutlierStream | undefined;
  if (trainer.needsOutliers) {
    if (!train.outlier)
      throw new ConfigError([{ path: 'train.outlier', message: `trainer '${trainer.name}' needs an outlier dataset {name, args}` }]);
    const outlierSet = await buildDataset(
      train.outlier,
      { registry, logger, rng: rng.derive('outlier-data'), config: { ...config, benchmark: data.benchmark } },
      'train.outlier',
      'data.outlier',
    );
    if (outlierSet.imageShape.some((d, i) => d !== data.train.imageShape[i])) {
      throw new ConfigError([
        { path: 'train.outlier', message: `outlier images are ${outlierSet.imageShape.join('×')}, the ID images ${h}×${w}×${c}` },
      ]);
    }
    outliers = new OutlierStream({
      dataset: outlierSet,
      batchSize: train.outlier_batch_size ?? 2 * train.batch_size,
      // OpenOOD's get_preprocessor gives every split but `train` (its `oe` split included) the test transform.
      preprocess: data.testChain,
      rng: rng.derive('outlier-stream'),
      rule: trainer.outlierBatches,
    });
  } else if (train.outlier) {
    logger.warn(`train.outlier is set but trainer '${trainer.name}' does not use outliers; ignored`);
  }

  // Without a `recorder:` key the base recorder, also for registries assembled without this library's module.
  const recorder =
    config.recorder === undefined
      ? new BaseRecorder(baseRecorderArgs.parse({}))
      : await registry.build<TrainRecorder>('recorder', config.recorder as never, { ...base, rng: rng.derive('recorder') }, 'recorder');
  logger.info(`training ${network.name} with ${trainer.name} → ${runDir}`);
  logger.info(`data: ${stream.describe()}`);
  if (outliers) logger.info(`outliers: ${outliers.describe()}`);
  try {
    const result = await trainLoop({
      network,
      trainer,
      stream,
      outliers,
      validation: { dataset: data.val, preprocess: data.testChain, batchSize: train.val_batch_size },
      epochs: train.epochs,
      outputDir: runDir,
      checkpointEvery: train.checkpoint_every,
      resume: options.resume,
      configHash,
      seed,
      rng,
      config: runConfig as Record<string, unknown>,
      hooks: options.hooks,
      recorder,
      stopSignal: options.stopSignal,
    });
    const testAccuracy = await evaluateAccuracy(
      network,
      { dataset: data.test, preprocess: data.testChain, batchSize: train.val_batch_size },
      rng.derive('test'),
    );
    const summary: TrainRunSummary = { ...result, runDir, configHash, stream: stream.describe(), testAccuracy };
    await recorder.summary(summary as unknown as Record<string, unknown>);
    return summary;
  } finally {
    network.dispose();
    (trainer as { dispose?: () => void }).dispose?.();
  }
}

/** `config` with its network wrapped in the trainer's required wrapper (unless it already is that network). */
export function withNetworkWrapper(
  config: Readonly<Record<string, unknown>>,
  wrapper: string | undefined,
): Readonly<Record<string, unknown>> {
  if (!wrapper || sectionName(config.network) === wrapper) return config;
  return { ...config, network: { name: wrapper, args: { backbone: config.network } } };
}

/** The `train` pipeline: `pipeline: {name: train}` runs {@link runTraining} on the run's config. */
export interface TrainPipeline {
  run(options: Omit<TrainRunOptions, 'registry'>): Promise<TrainRunSummary>;
}

export const trainPipeline = defineComponent({
  kind: 'pipeline',
  name: 'train',
  description: 'train a network (any trainer; SIO when the config has an sio block): epochs, validation, best/last checkpoints, resume',
  args: z.strictObject({}),
  create: (_args, ctx): TrainPipeline => ({
    run: (options) => runTraining(ctx.config, { ...options, registry: ctx.registry, logger: options.logger ?? ctx.logger }),
  }),
});
