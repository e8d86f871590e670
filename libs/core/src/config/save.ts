import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Document, isCollection, isPair, isScalar, stringify, visit, type Pair } from 'yaml';
import { writeFileAtomic } from '../io/atomic.js';
import { ConfigSources } from './sources.js';
import { isPlainObject, type ConfigObject } from './tree.js';
import type { ResolvedConfig } from './validate.js';

/**
 * The config as YAML that loads back to the same value: literal `@{` (written `@@{` originally) is
 * escaped again, and shared subtrees are written out in full rather than as anchors.
 */
export function stringifyConfig(value: unknown, options: { sources?: ConfigSources } = {}): string {
  if (!options.sources) return stringify(escapeReferences(value), { aliasDuplicateObjects: false, lineWidth: 0 });
  // Annotated form (`config print --sources`): each key with the file:line that set it, or "default".
  const sources = options.sources;
  const doc = new Document(escapeReferences(value), { aliasDuplicateObjects: false });
  visit(doc, {
    Pair(_key, pair, path) {
      const keys = [...path.filter((node): node is Pair => isPair(node)), pair].map((p) => String((p.key as { value?: unknown }).value));
      const where = sources.get(keys.join('.'));
      const note = ` ${where ? `${where.file}${where.line !== undefined ? `:${where.line}` : ''}` : 'default'}`;
      const value = pair.value;
      const empty = isCollection(value) && value.items.length === 0;
      if (empty) value.flow = true; // `args: {} # default` instead of a comment below `{}`
      if (isScalar(pair.value) || empty) (pair.value as { comment?: string }).comment = note;
      else if (pair.key && typeof pair.key === 'object') (pair.key as { comment?: string }).comment = note;
    },
  });
  return doc.toString({ lineWidth: 0 });
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
