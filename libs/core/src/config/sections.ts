import { ContainerModule, injectable, multiInject, optional } from 'inversify';
import { z } from 'zod';
import type { ConfigIssue } from '../errors/oodkit-error.js';
import { didYouMean } from '../errors/suggest.js';
import type { AnyComponentDefinition, ContributedDefinition } from '../registry/component.js';
import type { ComponentKind } from '../registry/kinds.js';
import { RegistryError, type ComponentRegistry } from '../registry/registry.js';
import { COMPONENT_DEFINITIONS } from '../registry/tokens.js';
import { zodIssuesToConfigIssues } from '../registry/zod-issues.js';
import type { KeyRename } from './renames.js';
import { componentRefSchema } from './schema-path.js';
import { isPlainObject, type ConfigObject } from './tree.js';

/** Multi-injection token: every ContainerModule that owns top-level config keys binds its sections here. */
export const CONFIG_SECTIONS = Symbol.for('oodkit.ConfigSections');

/** What a section's hooks receive. */
export interface SectionContext {
  readonly registry: ComponentRegistry;
  /** The whole resolved config (sections may check siblings, e.g. a pipeline needing `network`). */
  readonly config: Readonly<ConfigObject>;
}

/**
 * One top-level config key, owned by the library that contributes it. Validation sees the whole
 * resolved config, so a config with several mistakes is reported in one pass.
 */
export interface ConfigSection {
  /** The top-level key, e.g. `seed`, `network`, `dataset`. */
  readonly key: string;
  /** One line, shown in docs and by the CLI. */
  readonly description: string;
  /**
   * Every problem of this section's value (`undefined` when the key is absent: return an issue only if
   * the key is required). Issue paths are full dotted paths starting with `key`; file and line are
   * filled in from the source map by the caller.
   */
  validate(value: unknown, ctx: SectionContext): ConfigIssue[];
  /**
   * The value with defaults filled in, called only when `validate` found nothing; `undefined` omits
   * the key. Without it the value is kept as written.
   */
  complete?(value: unknown, ctx: SectionContext): unknown;
  /**
   * The schema of a key below this section (`path` is relative to the section), so that
   * `--key.some.arg=1` works when the file omits it. Undefined = unknown key. Without it, `schema` is
   * walked (`schemaAtPath`: union branches by the value's keys, component args by the registered name),
   * which is what every built-in section relies on.
   */
  schemaAt?(path: readonly string[], value: unknown, ctx: Pick<SectionContext, 'registry'>): z.ZodType | undefined;
  /**
   * The section's full schema (docs, JSON-schema export, typing and checking of `--key.path=...`
   * overrides, including keys no file sets). Component references inside it are built with
   * `componentRefSchema` / `componentObjectSchema` so overrides reach the named component's args.
   */
  readonly schema?: z.ZodType;
  /**
   * The mapping a shorthand value stands for (e.g. a benchmark name → the benchmark file's mapping), so
   * an override below a shorthand works. Component sections expand `name` to `{name}` without this.
   */
  expand?(value: unknown): ConfigObject | undefined;
  /** Keys of this section whose spelling changed (paths relative to the section); see {@link KeyRename}. */
  readonly renamed?: readonly KeyRename[];
  /**
   * A generic default for a key some library may own later: used only when no other provider
   * contributes the same key (two fallbacks, or two non-fallbacks, still collide).
   */
  readonly fallback?: boolean;
}

/** A section together with the package (or plugin) that contributed it. */
export interface ContributedSection {
  readonly provider: string;
  readonly section: ConfigSection;
}

/**
 * A section validated by a zod schema. Pass `z.strictObject` for mappings so unknown keys are errors
 * (with a suggestion); give defaults with `.default(...)` (scalars) or `.prefault({})` (objects) —
 * they are filled into the resolved config.
 *
 * Adding a section from a library: put it in that library's ContainerModule, e.g.
 * ```ts
 * export const dataModule = libraryModule('@oodkit/data', {
 *   components: dataDefinitions,
 *   sections: [schemaSection('dataset', datasetSchema, 'in-distribution data: splits, classes')],
 * });
 * ```
 * or, for a key that selects one registered component by name, `componentSection('benchmark',
 * 'pipeline', '...')`. A key may be owned by one provider only.
 */
export function schemaSection(key: string, schema: z.ZodType, description: string): ConfigSection {
  return {
    key,
    description,
    schema,
    validate(value) {
      const parsed = schema.safeParse(value);
      if (parsed.success) return [];
      if (value === undefined) return [{ path: key, message: `required: ${description}` }];
      return zodIssuesToConfigIssues(parsed.error, key, schema);
    },
    complete: (value) => schema.parse(value),
  };
}

export interface ComponentSectionOptions {
  /** The key must be present (default: optional; pipelines check what they need). */
  required?: boolean;
  /** Keys allowed beside `name` and `args`, e.g. `{ search: z.boolean().default(false) }`. */
  extra?: z.ZodRawShape;
}

/**
 * A section `{ name, args }` (or just the name as a string) that selects one registered component of
 * `kind`; `args` are validated by that component's schema and completed with its defaults.
 * See {@link schemaSection} for how a library adds one to its ContainerModule.
 */
export function componentSection(
  key: string,
  kind: ComponentKind,
  description: string,
  options: ComponentSectionOptions = {},
): ConfigSection {
  const extra = z.strictObject(options.extra ?? {});
  const allowed = ['name', 'args', ...Object.keys(options.extra ?? {})];
  const split = (value: ConfigObject) => {
    const { name, args, ...rest } = value;
    return { section: { name: name as string, args: args as ConfigObject | undefined }, rest };
  };
  return {
    key,
    description,
    schema: componentRefSchema(kind, options.extra),
    validate(value, ctx) {
      if (value === undefined || value === null) {
        return options.required ? [{ path: key, message: `required: a ${kind} — ${description}` }] : [];
      }
      if (typeof value === 'string') return ctx.registry.validate(kind, value, key);
      if (!isPlainObject(value)) {
        return [{ path: key, message: `expected { name: <${kind}>, args: {...} } or the name of a registered ${kind}` }];
      }
      const issues: ConfigIssue[] = [];
      const { section, rest } = split(value);
      if (section.name === undefined) issues.push({ path: `${key}.name`, message: `missing: the name of a registered ${kind}` });
      else issues.push(...ctx.registry.validate(kind, section, key));
      if (section.args !== undefined && section.args !== null && !isPlainObject(section.args)) {
        // The registry's zod error says "expected object"; the message below says what to write.
        const own = issues.findIndex((issue) => issue.path === `${key}.args`);
        if (own >= 0) issues.splice(own, 1);
        issues.push({ path: `${key}.args`, message: `expected a mapping of argument names to values` });
      }
      const known: ConfigObject = {};
      for (const [name, child] of Object.entries(rest)) {
        if (allowed.includes(name)) known[name] = child;
        else
          issues.push({
            path: `${key}.${name}`,
            message: `unknown key '${name}'${didYouMean(name, allowed)}; valid keys: ${allowed.join(', ')}`,
          });
      }
      const parsed = extra.safeParse(known);
      if (!parsed.success) issues.push(...zodIssuesToConfigIssues(parsed.error, key, extra));
      return issues;
    },
    complete(value, ctx) {
      if (value === undefined || value === null) return undefined;
      const { section, rest } =
        typeof value === 'string' ? { section: { name: value, args: undefined }, rest: {} } : split(value as ConfigObject);
      const args = ctx.registry.resolveArgs(kind, section, key) as ConfigObject;
      return { name: section.name, args, ...extra.parse(rest) };
    },
  };
}

/** The ContainerModule that contributes config sections only. */
export function sectionsModule(provider: string, sections: readonly ConfigSection[]): ContainerModule {
  return libraryModule(provider, { sections });
}

/**
 * The ContainerModule of a library or plugin contributing components and/or config sections (a
 * superset of `componentModule`, which stays valid for component-only libraries).
 */
export function libraryModule(
  provider: string,
  contents: { components?: readonly AnyComponentDefinition[]; sections?: readonly ConfigSection[] },
): ContainerModule {
  return new ContainerModule((options) => {
    for (const definition of contents.components ?? []) {
      options.bind<ContributedDefinition>(COMPONENT_DEFINITIONS).toConstantValue({ provider, definition });
    }
    for (const section of contents.sections ?? []) {
      options.bind<ContributedSection>(CONFIG_SECTIONS).toConstantValue({ provider, section });
    }
  });
}

/** Every contributed section by key; a key contributed twice is an error naming both providers. */
@injectable()
export class ConfigSections {
  private readonly byKey = new Map<string, ContributedSection>();

  constructor(@multiInject(CONFIG_SECTIONS) @optional() contributions: ContributedSection[] = []) {
    for (const contribution of contributions ?? []) {
      const existing = this.byKey.get(contribution.section.key);
      if (existing && Boolean(existing.section.fallback) !== Boolean(contribution.section.fallback)) {
        if (existing.section.fallback) this.byKey.set(contribution.section.key, contribution);
        continue;
      }
      if (existing) {
        throw new RegistryError(
          `config key '${contribution.section.key}' is contributed twice: by '${existing.provider}' and by '${contribution.provider}'`,
        );
      }
      this.byKey.set(contribution.section.key, contribution);
    }
  }

  keys(): string[] {
    return [...this.byKey.keys()];
  }

  get(key: string): ConfigSection | undefined {
    return this.byKey.get(key)?.section;
  }

  provider(key: string): string | undefined {
    return this.byKey.get(key)?.provider;
  }

  list(): ContributedSection[] {
    return [...this.byKey.values()];
  }

  /** Every section's renamed keys as full paths (`sio.realRatio` → `sio.real_ratio`). */
  renames(): KeyRename[] {
    return this.list().flatMap(({ section }) =>
      (section.renamed ?? []).map((r) => ({ ...r, from: `${section.key}.${r.from}`, to: `${section.key}.${r.to}` })),
    );
  }
}
