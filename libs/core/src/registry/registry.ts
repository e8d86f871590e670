import { injectable, multiInject, optional } from 'inversify';
import type { z } from 'zod';
import { ConfigError, OodkitError, EXIT_USAGE, type ConfigIssue } from '../errors/oodkit-error.js';
import { didYouMean } from '../errors/suggest.js';
import type { AnyComponentDefinition, ComponentSection, ContributedDefinition } from './component.js';
import type { BuildContext } from './build-context.js';
import { COMPONENT_KINDS, type ComponentKind } from './kinds.js';
import { COMPONENT_DEFINITIONS } from './tokens.js';
import { zodIssuesToConfigIssues } from './zod-issues.js';

/** Raised while assembling the registries (duplicate names); a configuration-level failure. */
export class RegistryError extends OodkitError {
  override readonly exitCode = EXIT_USAGE;
}

/**
 * One registry per kind, filled by multi-injection from every loaded ContainerModule.
 * Shared by the CLI and the API: both build components only through `build`.
 */
@injectable()
export class ComponentRegistry {
  private readonly byKind = new Map<ComponentKind, Map<string, ContributedDefinition>>();

  constructor(@multiInject(COMPONENT_DEFINITIONS) @optional() contributions: ContributedDefinition[] = []) {
    for (const kind of COMPONENT_KINDS) this.byKind.set(kind, new Map());
    for (const contribution of contributions ?? []) this.add(contribution);
  }

  private add(contribution: ContributedDefinition): void {
    const { definition, provider } = contribution;
    const table = this.byKind.get(definition.kind);
    if (!table) throw new RegistryError(`${provider}: unknown component kind '${definition.kind}' for '${definition.name}'`);
    const existing = table.get(definition.name);
    if (existing) {
      throw new RegistryError(
        `${definition.kind} '${definition.name}' is registered twice: by '${existing.provider}' and by '${provider}'`,
      );
    }
    table.set(definition.name, contribution);
  }

  names(kind: ComponentKind): string[] {
    return [...(this.byKind.get(kind)?.keys() ?? [])].sort();
  }

  list(kind: ComponentKind): ContributedDefinition[] {
    return this.names(kind).map((name) => this.byKind.get(kind)!.get(name)!);
  }

  has(kind: ComponentKind, name: string): boolean {
    return this.byKind.get(kind)?.has(name) ?? false;
  }

  /** The definition of `name`; unknown names list what exists and suggest the closest. */
  get(kind: ComponentKind, name: string, path: string = kind): AnyComponentDefinition {
    const found = this.byKind.get(kind)?.get(name);
    if (!found) throw new ConfigError([this.unknownNameIssue(kind, name, path)]);
    return found.definition;
  }

  provider(kind: ComponentKind, name: string): string | undefined {
    return this.byKind.get(kind)?.get(name)?.provider;
  }

  private unknownNameIssue(kind: ComponentKind, name: string, path: string): ConfigIssue {
    const names = this.names(kind);
    return {
      path: `${path}.name`,
      message: `unknown ${kind} '${name}'${didYouMean(name, names)}; registered: ${names.join(', ') || '(none)'}`,
    };
  }

  /** All problems of one section (unknown name, bad args), without throwing. */
  validate(kind: ComponentKind, section: ComponentSection | string, path: string = kind): ConfigIssue[] {
    const normalized = normalizeSection(section);
    if (typeof normalized.name !== 'string' || normalized.name === '') {
      return [{ path: `${path}.name`, message: `expected the name of a registered ${kind}` }];
    }
    const found = this.byKind.get(kind)?.get(normalized.name);
    if (!found) return [this.unknownNameIssue(kind, normalized.name, path)];
    const parsed = found.definition.args.safeParse(normalized.args ?? {});
    return parsed.success ? [] : zodIssuesToConfigIssues(parsed.error, `${path}.args`, found.definition.args);
  }

  /** Validated args with defaults filled in. */
  resolveArgs<S extends z.ZodObject>(kind: ComponentKind, section: ComponentSection | string, path: string = kind): z.infer<S> {
    const issues = this.validate(kind, section, path);
    if (issues.length > 0) throw new ConfigError(issues);
    const normalized = normalizeSection(section);
    return this.get(kind, normalized.name, path).args.parse(normalized.args ?? {}) as z.infer<S>;
  }

  /** Validate the section's args against the component's schema and construct it. */
  async build<P = unknown>(
    kind: ComponentKind,
    section: ComponentSection | string,
    ctx: Omit<BuildContext, 'registry'>,
    path: string = kind,
  ): Promise<P> {
    const args = this.resolveArgs(kind, section, path);
    const definition = this.get(kind, normalizeSection(section).name, path);
    return (await definition.create(args, { ...ctx, registry: this })) as P;
  }
}

export function normalizeSection(section: ComponentSection | string): ComponentSection {
  return typeof section === 'string' ? { name: section } : section;
}
