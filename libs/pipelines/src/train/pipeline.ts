import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import {
  ConfigError,
  Rng,
  defineComponent,
  saveResolvedConfig,
  silentLogger,
  writeFileAtomic,
  type Classifier,
  type ComponentRegistry,
  type Logger,
  type Trainer,
} from '@oodkit/core';
import { computeOptionsFrom, initCompute } from '@oodkit/compute';
import { buildDataset, cacheDir, datasetSectionSchema } from '@oodkit/data';
import {
  OutlierStream,
  generateSynthetic,
  isGeneratorSource,
  loadSyntheticPair,
  parseSioConfig,
  plainStream,
  sioStream,
  stableStringify,
  type GeneratorProgress,
  type TrainStream,
} from '@oodkit/sio';
import { buildTrainData } from './data.js';
import { evaluateAccuracy, trainLoop, type TrainHooks, type TrainResult } from './loop.js';

/** The `train:` config section: how long and in what batches to train, where outliers come from. */
export const trainSectionSchema = z
  .strictObject({
    epochs: z.number().int().positive().default(100).describe('training epochs (the cosine schedule spans all of them)'),
    batch_size: z.number().int().positive().default(128),
    val_batch_size: z.number().int().positive().default(500),
    checkpoint_every: z.number().int().min(0).default(0).describe('also checkpoint every N steps inside an epoch (0: epoch ends only)'),
    outlier: datasetSectionSchema.optional().describe('outlier dataset for the outlier-exposure trainers (oe, mixoe)'),
    outlier_batch_size: z.number().int().positive().optional().describe('default: 2 × batch_size, as the reference'),
  })
  .prefault({});
export type TrainSection = z.infer<typeof trainSectionSchema>;

/** Keys that do not change what training computes; everything else is in the resume hash. */
const NON_TRAINING_KEYS = ['output_dir', 'exp_name', 'log_level', 'compute', 'pipeline', 'plugins'];

/** sha256 (16 hex) of the training-relevant part of the resolved config. */
export function trainingConfigHash(config: Readonly<Record<string, unknown>>): string {
  const relevant = Object.fromEntries(Object.entries(config).filter(([key]) => !NON_TRAINING_KEYS.includes(key)));
  return createHash('sha256').update(stableStringify(relevant)).digest('hex').slice(0, 16);
}

function sectionName(section: unknown): string {
  return typeof section === 'string' ? section : ((section as { name?: string } | undefined)?.name ?? '?');
}

/** `<output_dir>/<exp_name>`; without exp_name: `<benchmark>_<network>_<trainer>[_sio]_s<seed>`. */
export function trainRunDir(config: Readonly<Record<string, unknown>>, benchmarkName: string): string {
  const base = typeof config.output_dir === 'string' ? config.output_dir : 'results';
  const sio = parseSioConfig(config.sio) ? '_sio' : '';
  const name =
    typeof config.exp_name === 'string'
      ? config.exp_name
      : `${benchmarkName}_${sectionName(config.network)}_${sectionName(config.trainer)}${sio}_s${Number(config.seed ?? 0)}`;
  return resolve(base, name);
}

export interface TrainRunOptions {
  readonly registry: ComponentRegistry;
  readonly logger?: Logger;
  readonly resume?: boolean;
  /** Overrides the run folder derived from output_dir/exp_name. */
  readonly runDir?: string;
  readonly hooks?: TrainHooks;
  readonly onGenerator?: (p: GeneratorProgress) => void;
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
 * OE family, then `trainLoop`. Writes config.yml, checkpoints and train.json into the run folder.
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

  const base = { logger, config };
  const data = await buildTrainData(config, { registry, logger, rng: rng.derive('data') });
  const runDir = options.runDir ?? trainRunDir(config, data.benchmark.name ?? 'benchmark');
  await mkdir(runDir, { recursive: true });
  const trainer = await registry.build<Trainer>('trainer', config.trainer as never, { ...base, rng: rng.derive('trainer') }, 'trainer');
  // what the checkpoint records, so feature extraction rebuilds the network the trainer trained
  const runConfig = withNetworkWrapper(config, trainer.networkWrapper);
  await saveResolvedConfig(runDir, runConfig as Record<string, unknown>);

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
        generator: { name: sio.synthetic.generator, args: sio.synthetic.args },
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
    stream = sioStream({ real: data.train, synthetic, sio, batchSize: train.batch_size, preprocess: data.trainPreprocess, rng: streamRng });
  } else {
    stream = plainStream({ dataset: data.train, batchSize: train.batch_size, preprocess: data.trainPreprocess, rng: streamRng });
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
    outliers = new OutlierStream(
      outlierSet,
      train.outlier_batch_size ?? 2 * train.batch_size,
      data.trainPreprocess,
      rng.derive('outlier-stream'),
    );
  } else if (train.outlier) {
    logger.warn(`train.outlier is set but trainer '${trainer.name}' does not use outliers; ignored`);
  }

  const configHash = trainingConfigHash(config);
  logger.info(`training ${network.name} with ${trainer.name} → ${runDir}`);
  logger.info(`data: ${stream.describe()}`);
  try {
    const result = await trainLoop({
      network,
      trainer,
      stream,
      outliers,
      validation: data.val ? { dataset: data.val, preprocess: data.testPreprocess, batchSize: train.val_batch_size } : undefined,
      epochs: train.epochs,
      outputDir: runDir,
      checkpointEvery: train.checkpoint_every,
      resume: options.resume,
      configHash,
      seed,
      rng,
      config: runConfig as Record<string, unknown>,
      hooks: options.hooks,
    });
    const testAccuracy = data.test
      ? await evaluateAccuracy(
          network,
          { dataset: data.test, preprocess: data.testPreprocess, batchSize: train.val_batch_size },
          rng.derive('test'),
        )
      : null;
    const summary: TrainRunSummary = { ...result, runDir, configHash, stream: stream.describe(), testAccuracy };
    await writeFileAtomic(join(runDir, 'train.json'), `${JSON.stringify(summary, null, 2)}\n`);
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
