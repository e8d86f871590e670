import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, writeFileAtomic, type BuildContext, type ImageDataset, type Logger } from '@oodkit/core';
import { MemoryDataset } from '@oodkit/data';
import { loadSyntheticPair, writeSyntheticPair } from '../synthetic/npy-pair.js';
import type { GeneratorProgress, SyntheticGenerator } from './types.js';

/** JSON with object keys sorted at every level, so equal settings hash equally whatever their key order. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

/** sha256 over what identifies a dataset's content: name, shape, classes, every label and pixel. */
export async function datasetFingerprint(data: ImageDataset): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ name: data.name, length: data.length, shape: data.imageShape, numClasses: data.numClasses }));
  hash.update(new Uint8Array(data.labels.buffer, data.labels.byteOffset, data.labels.byteLength));
  const chunk = 4096;
  for (let start = 0; start < data.length; start += chunk) {
    const n = Math.min(chunk, data.length - start);
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = start + i;
    hash.update(await data.readImages(idx));
  }
  return hash.digest('hex');
}

export interface GenerateOptions {
  /** `{name, args}` of a registered generator. */
  readonly generator: { readonly name: string; readonly args?: Record<string, unknown> };
  readonly count: number;
  /** The ID training set the generator learns from (and whose shape it reproduces). */
  readonly real: ImageDataset;
  readonly cacheRoot: string;
  readonly ctx: Omit<BuildContext, 'rng'> & { rng?: Rng };
  readonly onProgress?: (p: GeneratorProgress) => void;
}

export interface GeneratedSet {
  readonly dataset: MemoryDataset;
  readonly imagesPath: string;
  readonly labelsPath: string;
  readonly cacheKey: string;
  /** True when the set came from the cache (no training). */
  readonly cached: boolean;
  readonly trainSeconds: number | null;
}

/**
 * Synthetic data from a generator, in the SIO `.npy` format, cached under
 * `<cacheRoot>/synthetic/<generator>-<key>/` where key hashes the generator's resolved settings,
 * the count and the training data's fingerprint. `meta.json` is written last: a folder without it is
 * an interrupted generation and is redone.
 */
export async function generateSynthetic(options: GenerateOptions): Promise<GeneratedSet> {
  const { real, count, ctx } = options;
  const logger: Logger = ctx.logger;
  const generator = await ctx.registry.build<SyntheticGenerator>(
    'generator',
    options.generator,
    { logger, rng: ctx.rng ?? Rng.fromSeed(0), config: ctx.config },
    'sio.synthetic',
  );
  try {
    const fingerprint = await datasetFingerprint(real);
    const identity = { generator: generator.name, settings: generator.settings, count, data: fingerprint, format: 1 };
    const cacheKey = createHash('sha256').update(stableStringify(identity)).digest('hex').slice(0, 16);
    const dir = join(options.cacheRoot, 'synthetic', `${generator.name}-${cacheKey}`);
    const imagesPath = join(dir, 'images.npy');
    const labelsPath = join(dir, 'labels.npy');
    const metaPath = join(dir, 'meta.json');
    const target = { imageShape: real.imageShape, numClasses: real.numClasses };
    if (existsSync(metaPath)) {
      logger.info(`synthetic data: using cached ${generator.name} set ${dir}`);
      const dataset = await loadSyntheticPair(imagesPath, labelsPath, target, { name: `${generator.name}-${cacheKey}` });
      const meta = JSON.parse(await readFile(metaPath, 'utf8')) as { trainSeconds?: number };
      return { dataset, imagesPath, labelsPath, cacheKey, cached: true, trainSeconds: meta.trainSeconds ?? null };
    }
    logger.info(`synthetic data: training generator ${generator.name} on ${real.name} (${real.length} images); cache ${dir}`);
    const started = performance.now();
    await generator.fit(real, { logger, onProgress: options.onProgress });
    const trainSeconds = (performance.now() - started) / 1000;
    // Balanced classes in a fixed order; the SIO sampler permutes the pool anyway.
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) labels[i] = i % real.numClasses;
    const pixels = await generator.sample(labels, Rng.fromSeed(Number(generator.settings.seed ?? 0)).derive('sample'));
    const dataset = new MemoryDataset(`${generator.name}-${cacheKey}`, pixels, real.imageShape, real.numClasses, labels);
    await mkdir(dir, { recursive: true });
    await writeSyntheticPair(imagesPath, labelsPath, dataset);
    await writeFileAtomic(metaPath, `${JSON.stringify({ ...identity, trainSeconds, createdAt: new Date().toISOString() }, null, 2)}\n`);
    logger.info(`synthetic data: ${count} images generated in ${trainSeconds.toFixed(1)} s of training`);
    return { dataset, imagesPath, labelsPath, cacheKey, cached: false, trainSeconds };
  } finally {
    generator.dispose();
  }
}
