import type { ConfigIssue } from '../errors/oodkit-error.js';
import { COMMAND_LINE, type ConfigSources, type SourceLocation } from './sources.js';
import { childKeys, childOf, isPlainObject, type ConfigObject } from './tree.js';
import type { ConfigOverride } from './overrides.js';

/**
 * A config key whose spelling changed. The old spelling is still read (moved to the new one, with a
 * deprecation line naming where it was written) until the release `removeIn`. Paths are dotted; a `*`
 * segment matches any one key or list index (e.g. `bench.postprocessors.*.hparams`).
 */
export interface KeyRename {
  readonly from: string;
  readonly to: string;
  /** The release that stops accepting `from`. */
  readonly removeIn: string;
}

/** Where an old spelling was used and what to write instead: one line for stderr. */
export function deprecationLine(rename: { from: string; to: string; removeIn: string }, where: SourceLocation | undefined): string {
  const at = where ? `${where.file}${where.line !== undefined ? `:${where.line}` : ''}: ` : '';
  return `${at}'${rename.from}' is deprecated, write '${rename.to}' (the old spelling is removed in ${rename.removeIn})`;
}

/** Concrete paths of `value` matching the pattern segments (`*` = any one key). */
function matches(value: unknown, pattern: readonly string[], base: string[] = []): string[][] {
  if (pattern.length === 0) return [base];
  const [head, ...rest] = pattern;
  const keys = head === '*' ? childKeys(value) : childOf(value, head!).found ? [head!] : [];
  return keys.flatMap((key) => matches(childOf(value, key).value, rest, [...base, key]));
}

/** The `to` pattern with the `*` segments filled from the concrete `from` match. */
function target(from: readonly string[], to: readonly string[], concrete: readonly string[]): string[] {
  const wild = from.map((segment, i) => (segment === '*' ? concrete[i]! : undefined)).filter((s): s is string => s !== undefined);
  let next = 0;
  return to.map((segment) => (segment === '*' ? wild[next++]! : segment));
}

/**
 * Moves every old spelling in one parsed file (or any value + source map) to its new key, keeping the
 * source lines. Writing both spellings in one place is an error; each move is returned as a deprecation line.
 */
export function applyKeyRenames<T extends { value: ConfigObject; sources: ConfigSources }>(
  config: T,
  renames: readonly KeyRename[],
): { config: T; deprecations: string[]; issues: ConfigIssue[] } {
  const deprecations: string[] = [];
  const issues: ConfigIssue[] = [];
  if (renames.length === 0) return { config, deprecations, issues };
  const value = structuredClone(config.value);
  const sources = config.sources.clone();
  for (const rename of renames) {
    const from = rename.from.split('.');
    const to = rename.to.split('.');
    for (const concrete of matches(value, from)) {
      const oldPath = concrete.join('.');
      const newSegments = target(from, to, concrete);
      const newPath = newSegments.join('.');
      const where = sources.get(oldPath);
      const parent = parentOf(value, concrete);
      const newParent = ensureParent(value, newSegments);
      if (!parent || !newParent) continue;
      const last = newSegments[newSegments.length - 1]!;
      if (Object.prototype.hasOwnProperty.call(newParent, last)) {
        issues.push({
          path: oldPath,
          ...(where ? { file: where.file, ...(where.line !== undefined ? { line: where.line } : {}) } : {}),
          message: `'${oldPath}' and its new spelling '${newPath}' are both set; keep only '${newPath}'`,
        });
        continue;
      }
      const moved = parent[concrete[concrete.length - 1]!];
      delete parent[concrete[concrete.length - 1]!];
      newParent[last] = moved;
      const prefix = `${oldPath}.`;
      for (const [path, location] of sources.entries()) {
        if (path === oldPath || path.startsWith(prefix)) sources.set(newPath + path.slice(oldPath.length), location);
      }
      sources.clearBelow(oldPath);
      deprecations.push(deprecationLine({ ...rename, from: oldPath, to: newPath }, where));
    }
  }
  return { config: { ...config, value, sources }, deprecations, issues };
}

/** Renames the paths of command-line overrides; each old spelling gives a deprecation line. */
export function renameOverrides(
  overrides: readonly ConfigOverride[],
  renames: readonly KeyRename[],
): { overrides: ConfigOverride[]; deprecations: string[] } {
  const deprecations: string[] = [];
  const renamed = overrides.map((override) => {
    const segments = override.path.split('.');
    for (const rename of renames) {
      const from = rename.from.split('.');
      if (segments.length < from.length || !from.every((s, i) => s === '*' || s === segments[i])) continue;
      const head = target(from, rename.to.split('.'), segments.slice(0, from.length));
      const path = [...head, ...segments.slice(from.length)].join('.');
      deprecations.push(
        deprecationLine(
          { ...rename, from: `--${override.path}`, to: `--${path}` },
          { file: override.origin ? `${COMMAND_LINE} (${override.origin})` : COMMAND_LINE },
        ),
      );
      return { ...override, path };
    }
    return override;
  });
  return { overrides: renamed, deprecations };
}

function parentOf(root: ConfigObject, segments: readonly string[]): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const segment of segments.slice(0, -1)) node = childOf(node, segment).value;
  return isPlainObject(node) || Array.isArray(node) ? (node as Record<string, unknown>) : undefined;
}

/** The mapping that will hold the last segment of `segments`, created along the way where missing. */
function ensureParent(root: ConfigObject, segments: readonly string[]): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const segment of segments.slice(0, -1)) {
    const next = childOf(node, segment);
    if (!next.found) {
      if (!isPlainObject(node)) return undefined;
      node[segment] = {};
      node = node[segment];
    } else node = next.value;
  }
  return isPlainObject(node) || Array.isArray(node) ? (node as Record<string, unknown>) : undefined;
}
