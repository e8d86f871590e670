import { ConfigError, type ConfigIssue } from '../errors/oodkit-error.js';
import { applyOverrides, type ConfigOverride, type ConfigSchemaLookup } from './overrides.js';
import { resolveReferences } from './references.js';
import { ConfigSources } from './sources.js';
import { childPath, isPlainObject, type ConfigObject } from './tree.js';
import { applyKeyRenames, type KeyRename } from './renames.js';
import { readConfigFile, type ParsedConfigFile } from './yaml-file.js';

/** A config as plain data plus, for every key path, where it was last set. */
export interface LoadedConfig {
  value: ConfigObject;
  sources: ConfigSources;
  /** The files merged, in order. */
  files: string[];
}

export interface LoadConfigOptions {
  /** YAML files merged in order; later files win leaf by leaf, lists are replaced whole. */
  files: readonly string[];
  /** Raw argv such as `['--a.b=1', '--c', 'x']`, applied after the files. */
  overrides?: readonly (string | ConfigOverride)[];
  /** Types keys the files omit (component args with defaults); without it such keys are unknown. */
  schema?: ConfigSchemaLookup;
}

/**
 * Files → merged → overrides → references resolved. Validation against the registered sections is a
 * separate step (`resolveConfig`), because the sections depend on plugins the config itself names.
 */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const merged = readConfigFiles(options.files);
  const overridden = applyOverrides(merged, options.overrides ?? [], options.schema);
  return resolveReferences(overridden);
}

/** Reads and merges the files; problems of every file are reported together. */
export function readConfigFiles(files: readonly string[]): LoadedConfig {
  return mergeConfigFiles(files, parseConfigFiles(files));
}

/** Each file parsed on its own (renames apply per file, before merging); every file's problems at once. */
export function parseConfigFiles(files: readonly string[]): ParsedConfigFile[] {
  const issues: ConfigIssue[] = [];
  const parsed: ParsedConfigFile[] = [];
  for (const file of files) {
    const one = readConfigFile(file);
    if ('issues' in one) issues.push(...one.issues);
    else parsed.push(one);
  }
  if (issues.length > 0) throw new ConfigError(issues, 'cannot read the configuration');
  return parsed;
}

/**
 * Parsed files merged in order. With `renames`, old key spellings in each file are moved to the new
 * ones first (so a file using an old spelling still overrides an earlier file using the new one); the
 * deprecation lines are returned, and a file writing both spellings is an error.
 */
export function mergeConfigFiles(
  files: readonly string[],
  parsed: readonly ParsedConfigFile[],
  renames: readonly KeyRename[] = [],
  replaces?: MappingReplacer,
): LoadedConfig & { deprecations: string[] } {
  const issues: ConfigIssue[] = [];
  const deprecations: string[] = [];
  let merged: LoadedConfig = { value: {}, sources: new ConfigSources(), files: [...files] };
  for (const file of parsed) {
    const renamed = applyKeyRenames(file, renames);
    issues.push(...renamed.issues);
    deprecations.push(...renamed.deprecations);
    merged = mergeConfig(merged, renamed.config, replaces);
  }
  if (issues.length > 0) throw new ConfigError(issues, 'cannot read the configuration');
  return { ...merged, deprecations };
}

/**
 * Whether the mapping `overlay` at `path` replaces the mapping `base` has there instead of merging into
 * it: true when it is another alternative of a union (e.g. `sio.synthetic: {images, labels}` over a
 * generator's `{name, count}`), which a key-by-key merge would turn into a mix of both.
 */
export type MappingReplacer = (path: readonly string[], base: Readonly<ConfigObject>, overlay: Readonly<ConfigObject>) => boolean;

/** A {@link MappingReplacer} from a schema lookup's union-branch detection (`switchAt`). */
export function unionBranchReplacer(schema: ConfigSchemaLookup): MappingReplacer {
  return (path, base, overlay) =>
    Object.keys(overlay).some((key) => {
      const reset = schema.switchAt?.([...path, key], base);
      return reset !== undefined && reset.length === path.length;
    });
}

/**
 * `overlay` merged onto `base` (neither is modified): mappings merge key by key (unless `replaces` says
 * the overlay's mapping is another alternative of a union), anything else (scalars, lists, null)
 * replaces what was there, together with its source entries.
 */
export function mergeConfig<T extends { value: ConfigObject; sources: ConfigSources }>(
  base: T,
  overlay: ParsedConfigFile,
  replaces?: MappingReplacer,
): T {
  const sources = base.sources.clone();
  const overlayEntries = overlay.sources.entries();
  const copySources = (path: string) => {
    const prefix = `${path}.`;
    for (const [key, location] of overlayEntries) if (key === path || key.startsWith(prefix)) sources.set(key, location);
  };
  const merge = (target: ConfigObject, source: ConfigObject, path: string): ConfigObject => {
    const out: ConfigObject = { ...target };
    for (const [key, value] of Object.entries(source)) {
      const at = childPath(path, key);
      const previous = out[key];
      if (isPlainObject(previous) && isPlainObject(value) && !replaces?.(at.split('.'), base.value, value)) {
        const location = overlay.sources.get(at);
        if (location) sources.set(at, location);
        out[key] = merge(previous, value, at);
      } else {
        sources.clearBelow(at);
        copySources(at);
        out[key] = value;
      }
    }
    return out;
  };
  return { ...base, value: merge(base.value, overlay.value, ''), sources };
}
