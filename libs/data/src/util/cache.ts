import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';

/**
 * Where derived data (converted package data) is cached: OODKIT_CACHE_DIR, else the config's
 * `cache_dir`, else `<project>/.cache/oodkit` (project = nearest folder above cwd with a
 * package.json, outside node_modules), else the user cache dir. Never inside node_modules: a
 * reinstall would wipe it and packages must stay read-only.
 */
export function cacheDir(config?: Readonly<Record<string, unknown>>, cwd = process.cwd()): string {
  const candidates = [process.env.OODKIT_CACHE_DIR, typeof config?.cache_dir === 'string' ? config.cache_dir : undefined];
  for (const candidate of candidates) if (candidate) return resolve(candidate);
  const project = projectRoot(cwd);
  if (project) return join(project, '.cache', 'oodkit');
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'oodkit');
}

function projectRoot(start: string): string | undefined {
  let dir = resolve(start);
  let found: string | undefined;
  for (;;) {
    if (dir.split(sep).includes('node_modules')) {
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
      continue;
    }
    if (existsSync(join(dir, 'package.json'))) {
      found ??= dir;
      // a repository root wins over the nested workspace package the command runs in
      if (existsSync(join(dir, '.git'))) return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return found;
}
