import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors/oodkit-error.js';
import { didYouMean } from '../errors/suggest.js';
import { COMMAND_LINE, type ConfigSources } from './sources.js';
import { allPaths, childOf, childPath, cloneData, getPath, isPlainObject, typeName, type ConfigObject } from './tree.js';
import { componentKindOfRef, schemaShapeKeys } from './schema-path.js';
import { coerceText, kindOfSchema, kindOfValue, type ValueKind } from './value-kind.js';

/**
 * One `--a.b=value` / `--a.b value` from the command line; `text` is undefined for a bare `--a.b`.
 * A command that maps its own flags to config keys passes the typed `value` instead (no text parsing)
 * and names the flag in `origin`, so a problem with it says which option caused it.
 */
export interface ConfigOverride {
  path: string;
  text?: string;
  value?: unknown;
  /** The option this override comes from, e.g. `--out` (shown in error messages). */
  origin?: string;
}

/**
 * What a key the config files do not mention would accept: e.g. a component's args schema knows
 * `postprocessor.args.temperature` even when the file omits `args`. Returns undefined for unknown keys.
 * Called with `[]` it may return an object schema whose keys are the known top-level keys (used for
 * suggestions only). `expand` turns a shorthand value that an override reaches into (`postprocessor:
 * msp`, `benchmark: mnist`) into the mapping it stands for; undefined keeps the value.
 */
export type ConfigSchemaLookup = ((path: readonly string[], config: Readonly<ConfigObject>) => z.ZodType | undefined) & {
  expand?: (path: readonly string[], value: unknown, config: Readonly<ConfigObject>) => ConfigObject | undefined;
  /** The mapping to replace by `{}` because the key belongs to another alternative of a union (see `branchSwitchAt`). */
  switchAt?: (path: readonly string[], config: Readonly<ConfigObject>) => string[] | undefined;
};

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Raw argv (e.g. `['--a.b=1', '--c', 'x']`) → overrides, all malformed tokens reported at once.
 * A token after `--a.b` that does not start with `--` is its value.
 */
export function parseOverrideArgs(argv: readonly string[]): ConfigOverride[] {
  const out: ConfigOverride[] = [];
  const issues: ConfigIssue[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (!token.startsWith('--') || token === '--') {
      issues.push({
        path: '',
        file: COMMAND_LINE,
        message: `unexpected argument '${token}': overrides are written --key.path=value or --key.path value`,
      });
      continue;
    }
    const eq = token.indexOf('=');
    const path = eq >= 0 ? token.slice(2, eq) : token.slice(2);
    let text: string | undefined;
    if (eq >= 0) text = token.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) text = argv[++i];
    const segments = path.split('.');
    if (!segments.every((segment) => SEGMENT.test(segment))) {
      issues.push({
        path,
        file: COMMAND_LINE,
        message: `malformed key '${path}' in '${token}': expected dot-separated names of letters, digits, '_' or '-'`,
      });
      continue;
    }
    out.push(text === undefined ? { path } : { path, text });
  }
  if (issues.length > 0) throw new ConfigError(issues, 'invalid command-line overrides');
  return out;
}

/** Overrides from a mix of raw argv strings (runs of consecutive strings are parsed as argv) and parsed ones. */
export function toOverrides(list: readonly (string | ConfigOverride)[]): ConfigOverride[] {
  const out: ConfigOverride[] = [];
  let argv: string[] = [];
  const flush = () => {
    if (argv.length > 0) out.push(...parseOverrideArgs(argv));
    argv = [];
  };
  for (const item of list) {
    if (typeof item === 'string') argv.push(item);
    else {
      flush();
      out.push(item);
    }
  }
  flush();
  return out;
}

export interface OverrideTarget {
  value: ConfigObject;
  sources: ConfigSources;
}

/**
 * Applies overrides in order to a copy of the config. Each value takes the type of the key it
 * replaces; keys the files omit are typed by `schema`; keys neither knows are errors with a
 * suggestion. Overridden paths are recorded as set on the command line.
 */
export function applyOverrides<T extends OverrideTarget>(
  config: T,
  overrides: readonly (ConfigOverride | string)[],
  schema?: ConfigSchemaLookup,
): T {
  const { config: out, issues } = applyOverridesCollecting(config, overrides, schema);
  if (issues.length > 0) throw new ConfigError(issues, 'invalid command-line overrides');
  return out;
}

/**
 * Like {@link applyOverrides}, but returns the problems instead of throwing; failed overrides leave
 * the config untouched, so validation can still report the config's own mistakes in the same pass.
 */
export function applyOverridesCollecting<T extends OverrideTarget>(
  config: T,
  overrides: readonly (ConfigOverride | string)[],
  schema?: ConfigSchemaLookup,
): { config: T; issues: ConfigIssue[] } {
  const parsed = toOverrides(overrides);
  const value = cloneData(config.value);
  const sources = config.sources.clone();
  const issues: ConfigIssue[] = [];
  for (const override of parsed) {
    const before = cloneData(value);
    const problem = applyOne(value, sources, override, schema);
    if (problem) {
      issues.push({ path: override.path, file: override.origin ? `${COMMAND_LINE} (${override.origin})` : COMMAND_LINE, message: problem });
      for (const key of Object.keys(value)) delete value[key];
      Object.assign(value, before);
    }
  }
  return { config: { ...config, value, sources }, issues };
}

function applyOne(root: ConfigObject, sources: ConfigSources, override: ConfigOverride, schema?: ConfigSchemaLookup): string | undefined {
  const segments = override.path.split('.');
  const reset = schema?.switchAt?.(segments, root);
  if (reset && reset.length > 0) {
    // `--sio.synthetic.images=a.npy` on a generator source: the other alternative starts from an empty mapping.
    const holder = getPath(root, reset.slice(0, -1)).value;
    if (isPlainObject(holder)) {
      holder[reset[reset.length - 1]!] = {};
      sources.clearBelow(reset.join('.'));
      sources.set(reset.join('.'), { file: COMMAND_LINE });
    }
  }
  let parent: unknown = root;
  let parentPath = '';
  const created: string[] = [];
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i]!;
    const next = childOf(parent, segment);
    const path = childPath(parentPath, segment);
    if (next.found && (isPlainObject(next.value) || Array.isArray(next.value))) {
      parent = next.value;
    } else if (next.found && typeof next.value === 'string' && !next.value.includes('@{') && !Array.isArray(parent) && schema) {
      // A shorthand (`postprocessor: msp` for `{name: msp}`, `benchmark: mnist` for the file's mapping):
      // expand it so `--postprocessor.args.x=1` works. A failed override restores the config whole.
      const expanded = schema.expand?.(segments.slice(0, i + 1), next.value, root) ?? expandComponentName(schema, segments, i, root);
      if (!expanded)
        return componentKindOfRef(schema(segments.slice(0, i + 1), root)) !== undefined
          ? unknownKey(root, override.path, schema)
          : `cannot set '${override.path}': '${path}' is a string, not a mapping`;
      (parent as ConfigObject)[segment] = expanded;
      const where = sources.get(path) ?? { file: COMMAND_LINE };
      for (const key of Object.keys(expanded)) sources.set(childPath(path, key), where);
      parent = expanded;
    } else if (next.found && next.value !== null) {
      return `cannot set '${override.path}': '${path}' is a ${typeName(next.value)}, not a mapping`;
    } else {
      // Missing (or null) intermediate: only a key the schema knows may create it.
      if (!schema?.(segments, root) || Array.isArray(parent)) return unknownKey(root, override.path, schema);
      const fresh: ConfigObject = {};
      (parent as ConfigObject)[segment] = fresh;
      created.push(path);
      parent = fresh;
    }
    parentPath = path;
  }
  const last = segments[segments.length - 1]!;
  const existing = childOf(parent, last);
  let kind: ValueKind;
  const schemaKind = () => kindOfSchema(schema?.(segments, root));
  if (existing.found) {
    const own = kindOfValue(existing.value);
    // A reference or null says nothing about the intended type: ask the schema.
    kind = own === 'any' || (typeof existing.value === 'string' && existing.value.includes('@{')) ? schemaKind() : own;
  } else if (Array.isArray(parent)) {
    return unknownKey(root, override.path, schema);
  } else {
    if (!schema?.(segments, root)) return unknownKey(root, override.path, schema);
    kind = schemaKind();
  }
  let coerced: { value: unknown } | { error: string };
  if ('value' in override) {
    coerced = { value: cloneData(override.value) };
  } else if (override.text === undefined) {
    coerced = kind === 'boolean' ? { value: true } : { error: `missing value: write --${override.path}=<value>` };
  } else {
    coerced = coerceText(override.text, kind);
  }
  if ('error' in coerced) return coerced.error;
  if (Array.isArray(parent)) parent[Number(last)] = coerced.value;
  else (parent as ConfigObject)[last] = coerced.value;
  const where = { file: override.origin ? `${COMMAND_LINE} (${override.origin})` : COMMAND_LINE };
  for (const path of created) sources.set(path, where);
  sources.clearBelow(override.path);
  sources.set(override.path, where);
  return undefined;
}

/** `{name: <the string>}` when the key at `segments[0..i]` is a component reference (union of a name and `{name, args}`). */
function expandComponentName(
  schema: ConfigSchemaLookup,
  segments: readonly string[],
  i: number,
  root: ConfigObject,
): ConfigObject | undefined {
  const at = segments.slice(0, i + 1);
  const value = getPath(root, at).value;
  return typeof value === 'string' && componentKindOfRef(schema(at, root)) !== undefined && schema(segments, root)
    ? { name: value }
    : undefined;
}

function unknownKey(root: ConfigObject, path: string, schema?: ConfigSchemaLookup): string {
  const segments = path.split('.');
  // Below `x.args` of a component reference the schema depends on which component `x` names.
  const at = segments.indexOf('args');
  const kind = at > 0 && schema ? componentKindOfRef(schema(segments.slice(0, at), root)) : undefined;
  if (kind !== undefined) {
    const owner = segments.slice(0, at).join('.');
    const value = getPath(root, segments.slice(0, at)).value;
    const name = typeof value === 'string' ? value : isPlainObject(value) ? value.name : undefined;
    if (typeof name !== 'string') return `unknown key '${path}': '${owner}' names no ${kind} yet (set --${owner}=<name> first)`;
  }
  const candidates = new Set(allPaths(root));
  // Keys the schema knows beside the missing one count as candidates too.
  for (let depth = 0; depth < segments.length && schema; depth++) {
    const base = segments.slice(0, depth);
    const known = schemaShapeKeys(schema(base, root));
    for (const key of known) candidates.add([...base, key].join('.'));
  }
  // Only keys at the same depth: 'network' is no useful answer to 'network.args.width'.
  const sameDepth = [...candidates].filter((candidate) => candidate.split('.').length === segments.length);
  return `unknown key '${path}'${didYouMean(path, sameDepth)}`;
}
