import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../io/atomic.js';
import { ConfigSources } from './sources.js';
import { isPlainObject, type ConfigObject } from './tree.js';
import type { ResolvedConfig } from './validate.js';

/**
 * The config as YAML that loads back to the same value: literal `@{` (written `@@{` originally) is
 * escaped again, and shared subtrees are written out in full rather than as anchors.
 */
export function stringifyConfig(value: unknown): string {
  return stringify(escapeReferences(value), { aliasDuplicateObjects: false, lineWidth: 0 });
}

function escapeReferences(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/@\{/g, '@@{');
  if (Array.isArray(value)) return value.map(escapeReferences);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeReferences(v)]));
  return value;
}

export const RESOLVED_CONFIG_FILE = 'config.yml';

/** Writes `<dir>/config.yml` atomically (creating `dir`); every result folder gets one. Returns its path. */
export async function saveResolvedConfig(dir: string, config: ResolvedConfig | Readonly<ConfigObject>): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, RESOLVED_CONFIG_FILE);
  const value = config.sources instanceof ConfigSources ? (config as ResolvedConfig).value : config;
  await writeFileAtomic(path, stringifyConfig(value));
  return path;
}
