import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DataError } from '@oodkit/core';

const requireHere = createRequire(import.meta.url);

/** Folder of an installed npm package (resolved from @oodkit/data, so the workspace's copy). */
export function packageDir(name: string): string {
  try {
    return dirname(requireHere.resolve(`${name}/package.json`));
  } catch (error) {
    throw new DataError(`npm package '${name}' is not installed (needed for its data); run npm ci`, { cause: error });
  }
}

export function packageVersion(name: string): string {
  return (requireHere(`${name}/package.json`) as { version: string }).version;
}

/**
 * Resolves a path from a config: `package:<npm name>/<path>` points inside an installed package,
 * absolute paths stay, relative ones are taken from `baseDir` (the config's data_dir, else cwd).
 */
export function resolveDataPath(path: string, baseDir: string = process.cwd()): string {
  const match = /^package:((?:@[^/]+\/)?[^/]+)\/?(.*)$/.exec(path);
  if (match) return join(packageDir(match[1]), match[2]);
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/** The data root of a build context's config: `data_dir` when set, else the working directory. */
export function dataDirOf(config: Readonly<Record<string, unknown>> | undefined): string {
  const dir = config?.data_dir;
  return typeof dir === 'string' && dir !== '' ? resolve(dir) : process.cwd();
}
