import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ConfigError, type BuildContext, type ImageDataset, type Rng } from '@oodkit/core';
import { tf } from '@oodkit/compute';
import {
  applyChain,
  buildChain,
  buildDataset,
  normalize,
  resolveBenchmarkValue,
  toUnitFloat,
  type DatasetSection,
  type Preprocessor,
} from '@oodkit/data';
import type { BatchPreprocess } from '@oodkit/sio';

/** The parts of a benchmark declaration (configs/benchmarks/*.yml) that training needs. */
export interface BenchmarkSpec {
  readonly name?: string;
  readonly id: { readonly train: DatasetSection; readonly val?: DatasetSection; readonly test?: DatasetSection };
  readonly normalization?: { readonly mean: number[]; readonly std: number[] };
  readonly preprocessor?: { readonly train?: DatasetSection[]; readonly test?: DatasetSection[] };
  readonly ood?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

function findUp(relative: string, from = process.cwd()): string | undefined {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = resolve(dir, '..');
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * `benchmark` as written in a config: the declaration itself (a mapping with `id`), a path to a
 * benchmark YAML file, or a bare name looked up as `configs/benchmarks/<name>.yml` from the working
 * directory upwards. A file may hold the declaration at top level or under a `benchmark:` key.
 */
export function resolveBenchmark(value: unknown, path = 'benchmark'): BenchmarkSpec {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const spec = value as BenchmarkSpec;
    const id = spec.id as { train?: unknown } | undefined;
    if (!id || typeof id !== 'object' || !id.train) {
      throw new ConfigError([
        { path: `${path}.id.train`, message: 'a benchmark needs id.train: the in-distribution training dataset {name, args}' },
      ]);
    }
    return spec;
  }
  if (typeof value !== 'string' || value === '') {
    throw new ConfigError([
      { path, message: 'expected a benchmark: its declaration, a path to a benchmark .yml, or a name under configs/benchmarks/' },
    ]);
  }
  const file =
    value.endsWith('.yml') || value.endsWith('.yaml') || value.includes('/')
      ? isAbsolute(value)
        ? value
        : resolve(value)
      : findUp(join('configs', 'benchmarks', `${value}.yml`));
  if (!file || !existsSync(file))
    throw new ConfigError([{ path, message: `benchmark '${value}' not found${file ? ` (${file})` : ' under configs/benchmarks/'}` }]);
  const parsed = parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
  const inner = parsed && typeof parsed.benchmark === 'object' ? parsed.benchmark : parsed;
  return resolveBenchmark(inner, `${file}: benchmark`);
}

/** A host preprocessing chain as the BatchPreprocess the streams use (uint8 → float32 tensor). */
export function chainPreprocess(chain: readonly Preprocessor[]): BatchPreprocess {
  return (pixels, count, [h, w, c], rng: Rng) => {
    const out = toUnitFloat(applyChain(chain, { data: pixels, n: count, h, w, c }, rng));
    return tf.tensor4d(out.data as Float32Array, [out.n, out.h, out.w, out.c], 'float32');
  };
}

export interface TrainData {
  readonly benchmark: BenchmarkSpec;
  readonly train: ImageDataset;
  readonly val?: ImageDataset;
  readonly test?: ImageDataset;
  readonly trainPreprocess: BatchPreprocess;
  readonly testPreprocess: BatchPreprocess;
}

/**
 * Builds the ID splits and the train/test preprocessing chains. Chains come from the benchmark's
 * `preprocessor: {train, test}`, else just `normalize` with the benchmark's normalisation (scaling to
 * [0, 1] when it declares none).
 */
export async function buildTrainData(config: Readonly<Record<string, unknown>>, ctx: Omit<BuildContext, 'config'>): Promise<TrainData> {
  // Names and paths are resolved by the data lib (shipped benchmarks live in configs/benchmarks).
  const benchmark = resolveBenchmark(await resolveBenchmarkValue(config.benchmark));
  const withBenchmark = { ...config, benchmark };
  const bctx: BuildContext = { ...ctx, config: withBenchmark };
  const train = await buildDataset(benchmark.id.train, bctx, 'benchmark.id.train', 'data.train');
  const val = benchmark.id.val ? await buildDataset(benchmark.id.val, bctx, 'benchmark.id.val', 'data.val') : undefined;
  const test = benchmark.id.test ? await buildDataset(benchmark.id.test, bctx, 'benchmark.id.test', 'data.test') : undefined;
  const declared = benchmark.preprocessor;
  const fallback: Preprocessor[] = benchmark.normalization ? [normalize(benchmark.normalization.mean, benchmark.normalization.std)] : [];
  const trainChain = declared?.train ? await buildChain(declared.train, bctx, 'benchmark.preprocessor.train') : fallback;
  const testChain = declared?.test ? await buildChain(declared.test, bctx, 'benchmark.preprocessor.test') : fallback;
  return { benchmark, train, val, test, trainPreprocess: chainPreprocess(trainChain), testPreprocess: chainPreprocess(testChain) };
}
