import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError, DataError, type BuildContext, type ComponentRegistry, type ImageDataset } from '@oodkit/core';
import { buildChain } from '../preprocessors/chain.js';
import type { Preprocessor } from '../preprocessors/types.js';
import { relabelOod } from '../datasets/views.js';
import { dataDirOf } from '../util/fs.js';
import { benchmarkSchema, validateBenchmark, type BenchmarkConfig, type RoleDataset } from './schema.js';

export interface NamedDataset {
  readonly name: string;
  readonly dataset: ImageDataset;
}

export interface LoadedBenchmark {
  readonly config: BenchmarkConfig;
  readonly id: { readonly train: ImageDataset; readonly val: ImageDataset; readonly test: ImageDataset };
  /** OOD sets carry label -1 for every sample, whatever their source labels. */
  readonly ood: { readonly val: NamedDataset; readonly near: readonly NamedDataset[]; readonly far: readonly NamedDataset[] };
  readonly csid: readonly NamedDataset[];
  readonly preprocess: { readonly train: Preprocessor[]; readonly test: Preprocessor[] };
}

/** The shipped benchmark files: configs/benchmarks at the repository root. */
export function builtinBenchmarkDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'configs', 'benchmarks');
}

function findUp(relative: string, from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The YAML file a string `benchmark` value names: a path (.yml/.yaml or containing '/'), else a shipped name. */
export function benchmarkFile(value: string, cwd = process.cwd()): string {
  if (/\.ya?ml$/.test(value) || value.includes('/')) return resolve(cwd, value);
  return findUp(join('configs', 'benchmarks', `${value}.yml`), cwd) ?? join(builtinBenchmarkDir(), `${value}.yml`);
}

/**
 * A `benchmark` config value: an inline mapping, a path to a YAML file, or the name of a shipped
 * benchmark (`mnist`, `cifar10`, ...: configs/benchmarks/<name>.yml from cwd upwards, else the
 * repository's). A file holds the declaration under `benchmark:` (so it merges as a config file) or at top level.
 */
export function resolveBenchmarkValueSync(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const file = benchmarkFile(value);
  if (!existsSync(file)) {
    throw new ConfigError([
      { path: 'benchmark', message: `no benchmark file ${file} (shipped benchmarks: ${listShipped().join(', ') || 'none found'})` },
    ]);
  }
  const doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object') throw new ConfigError([{ path: 'benchmark', file, message: 'expected a benchmark mapping' }]);
  return doc.benchmark && typeof doc.benchmark === 'object' ? doc.benchmark : doc;
}

export async function resolveBenchmarkValue(value: unknown): Promise<unknown> {
  return resolveBenchmarkValueSync(value);
}

function listShipped(): string[] {
  try {
    return readdirSync(builtinBenchmarkDir())
      .filter((f) => f.endsWith('.yml'))
      .map((f) => f.replace(/\.yml$/, ''));
  } catch {
    return [];
  }
}

/** Validates (all problems at once) and fills in defaults. */
export function parseBenchmark(value: unknown, registry: ComponentRegistry): BenchmarkConfig {
  const issues = validateBenchmark(value, registry);
  if (issues.length > 0) throw new ConfigError(issues, 'invalid benchmark');
  return benchmarkSchema.parse(value);
}

/** The in-distribution part of a benchmark: what training needs (no OOD set is opened). */
export interface LoadedBenchmarkId {
  readonly config: BenchmarkConfig;
  readonly id: { readonly train: ImageDataset; readonly val: ImageDataset; readonly test: ImageDataset };
  readonly preprocess: { readonly train: Preprocessor[]; readonly test: Preprocessor[] };
}

/** A validated benchmark and how to build its sets (each checked against the declared shape and classes). */
interface OpenedBenchmark {
  readonly config: BenchmarkConfig;
  build(section: RoleDataset['dataset'], path: string): Promise<ImageDataset>;
  buildId(split: 'train' | 'val' | 'test'): Promise<ImageDataset>;
  chains(): Promise<LoadedBenchmarkId['preprocess']>;
}

/**
 * Datasets get the benchmark as `config.benchmark` (so `normalize` and `imglist` can default from
 * it) and its data_dir (relative to the config's) as their root.
 */
async function openBenchmark(value: unknown, registry: ComponentRegistry, ctx: Omit<BuildContext, 'registry'>): Promise<OpenedBenchmark> {
  const config = parseBenchmark(await resolveBenchmarkValue(value), registry);
  const dataDir = config.data_dir ? resolve(dataDirOf(ctx.config), config.data_dir) : dataDirOf(ctx.config);
  const buildCtx: BuildContext = { ...ctx, registry, config: { ...ctx.config, benchmark: config, data_dir: dataDir } };
  const build = async (section: RoleDataset['dataset'], path: string): Promise<ImageDataset> => {
    const dataset = await registry.build<ImageDataset>(
      'dataset',
      section,
      { logger: ctx.logger, rng: ctx.rng.derive(path), config: buildCtx.config },
      path,
    );
    const [h, w, c] = config.image_shape;
    if (dataset.imageShape[0] !== h || dataset.imageShape[1] !== w || dataset.imageShape[2] !== c) {
      throw new DataError(
        `${path}: '${dataset.name}' has images of shape [${dataset.imageShape.join(', ')}] but benchmark '${config.name}' declares image_shape [${h}, ${w}, ${c}]`,
      );
    }
    return dataset;
  };
  const buildId = async (split: 'train' | 'val' | 'test') => {
    const dataset = await build(config.id[split], `benchmark.id.${split}`);
    if (dataset.numClasses !== config.num_classes) {
      throw new DataError(
        `benchmark.id.${split}: '${dataset.name}' has ${dataset.numClasses} classes but benchmark '${config.name}' declares ${config.num_classes}`,
      );
    }
    return dataset;
  };
  const chains = async () => ({
    train: await buildChain(config.preprocessor.train, buildCtx, 'benchmark.preprocessor.train'),
    test: await buildChain(config.preprocessor.test, buildCtx, 'benchmark.preprocessor.test'),
  });
  return { config, build, buildId, chains };
}

/**
 * The ID splits and both preprocessing chains of a benchmark, validated like {@link loadBenchmark};
 * the OOD sets are not opened, so training does not need their files.
 */
export async function loadBenchmarkId(
  value: unknown,
  registry: ComponentRegistry,
  ctx: Omit<BuildContext, 'registry'>,
): Promise<LoadedBenchmarkId> {
  const opened = await openBenchmark(value, registry, ctx);
  const id = { train: await opened.buildId('train'), val: await opened.buildId('val'), test: await opened.buildId('test') };
  return { config: opened.config, id, preprocess: await opened.chains() };
}

/** Builds every dataset and both preprocessing chains of a benchmark. */
export async function loadBenchmark(
  value: unknown,
  registry: ComponentRegistry,
  ctx: Omit<BuildContext, 'registry'>,
): Promise<LoadedBenchmark> {
  const { config, build, buildId, chains } = await openBenchmark(value, registry, ctx);
  const buildOod = async (entry: RoleDataset, path: string): Promise<NamedDataset> => ({
    name: entry.name,
    dataset: relabelOod(await build(entry.dataset, path), entry.name),
  });
  const id = { train: await buildId('train'), val: await buildId('val'), test: await buildId('test') };
  const ood = {
    val: await buildOod(config.ood.val, 'benchmark.ood.val.dataset'),
    near: await Promise.all(config.ood.near.map((e, i) => buildOod(e, `benchmark.ood.near.${i}.dataset`))),
    far: await Promise.all(config.ood.far.map((e, i) => buildOod(e, `benchmark.ood.far.${i}.dataset`))),
  };
  const csid = await Promise.all(
    config.csid.map(async (e, i) => ({ name: e.name, dataset: await build(e.dataset, `benchmark.csid.${i}.dataset`) })),
  );
  return { config, id, ood, csid, preprocess: await chains() };
}
