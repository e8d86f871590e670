import { ConfigError, type ConfigIssue } from '../errors/oodkit-error.js';
import { didYouMean } from '../errors/suggest.js';
import type { ComponentRegistry } from '../registry/registry.js';
import type { LoadedConfig } from './load.js';
import type { ConfigSchemaLookup } from './overrides.js';
import { branchSwitchAt, schemaAtPath, type SchemaWalkContext } from './schema-path.js';
import type { ConfigSections, SectionContext } from './sections.js';
import type { ConfigSources } from './sources.js';
import { z } from 'zod';
import type { ConfigObject } from './tree.js';

/**
 * Every problem of a resolved config: unknown top-level keys (with a suggestion) and each section's
 * own issues, located at file:line from the source map. Sorted by file order and line.
 */
export function validateConfig(
  loaded: Pick<LoadedConfig, 'value' | 'sources'> & { files?: string[] },
  registry: ComponentRegistry,
  sections: ConfigSections,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const keys = sections.keys();
  for (const key of Object.keys(loaded.value)) {
    if (sections.get(key)) continue;
    issues.push({
      path: key,
      message: `unknown top-level key '${key}'${didYouMean(key, keys)}; known keys: ${[...keys].sort().join(', ')}`,
    });
  }
  const ctx: SectionContext = { registry, config: loaded.value };
  for (const { section } of sections.list()) {
    try {
      issues.push(...section.validate(loaded.value[section.key], ctx));
    } catch (error) {
      issues.push({ path: section.key, message: `validation failed: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return sortIssues(locateIssues(issues, loaded.sources), loaded.files ?? []);
}

/** A config that passed validation, with every section's defaults filled in. */
export interface ResolvedConfig {
  value: ConfigObject;
  sources: ConfigSources;
  files: string[];
}

/** Validates (throwing one ConfigError with every issue) and fills in defaults, keeping the key order. */
export function resolveConfig(loaded: LoadedConfig, registry: ComponentRegistry, sections: ConfigSections): ResolvedConfig {
  const issues = validateConfig(loaded, registry, sections);
  if (issues.length > 0) throw new ConfigError(issues);
  const ctx: SectionContext = { registry, config: loaded.value };
  const value: ConfigObject = {};
  const order = [...Object.keys(loaded.value), ...sections.keys().filter((key) => !(key in loaded.value))];
  for (const key of order) {
    const section = sections.get(key)!;
    const completed = section.complete ? section.complete(loaded.value[key], ctx) : loaded.value[key];
    if (completed !== undefined) value[key] = completed;
  }
  return { value, sources: loaded.sources, files: loaded.files };
}

/**
 * Schema lookup over the registered sections: overrides are checked against each section's full schema
 * (component args resolved by the registered name), not against the keys the files happen to contain.
 */
export function createSchemaLookup(
  registry: ComponentRegistry,
  sections: ConfigSections,
  options: Pick<SchemaWalkContext, 'unions'> = {},
): ConfigSchemaLookup {
  const lookup: ConfigSchemaLookup = (path, config) => {
    if (path.length === 0) return z.object(Object.fromEntries(sections.keys().map((key) => [key, z.unknown()])));
    const section = sections.get(path[0]!);
    if (!section) return undefined;
    if (path.length === 1) return section.schema ?? z.unknown();
    const below = path.slice(1);
    const value = config[path[0]!];
    if (section.schemaAt) return section.schemaAt(below, value, { registry });
    return section.schema ? schemaAtPath(section.schema, below, value, { registry, ...options }) : undefined;
  };
  lookup.expand = (path, value) => (path.length === 1 ? sections.get(path[0]!)?.expand?.(value) : undefined);
  lookup.switchAt = (path, config) => {
    const section = sections.get(path[0]!);
    if (!section?.schema || section.schemaAt || options.unions === 'fitting') return undefined;
    const at = branchSwitchAt(section.schema, path.slice(1), config[path[0]!], { registry });
    return at ? [path[0]!, ...at] : undefined;
  };
  return lookup;
}

export function locateIssues(issues: readonly ConfigIssue[], sources: ConfigSources): ConfigIssue[] {
  return issues.map((issue) => {
    if (issue.file !== undefined) return issue;
    const where = sources.locate(issue.path);
    if (!where) return issue;
    return { ...issue, file: where.file, ...(where.line !== undefined ? { line: where.line } : {}) };
  });
}

function sortIssues(issues: ConfigIssue[], files: readonly string[]): ConfigIssue[] {
  const rank = (issue: ConfigIssue) =>
    issue.file === undefined ? files.length + 1 : files.indexOf(issue.file) === -1 ? files.length : files.indexOf(issue.file);
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) => rank(a.issue) - rank(b.issue) || (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) || a.index - b.index)
    .map(({ issue }) => issue);
}
