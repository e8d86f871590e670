import type { Command } from 'commander';
import { z } from 'zod';
import {
  COMPONENT_KINDS,
  UsageError,
  createAppContainer,
  didYouMean,
  isComponentKind,
  pluginSpecsOf,
  readConfigFiles,
  type AnyComponentDefinition,
  type AppContainer,
  type ComponentKind,
  type PluginSpec,
} from '@oodkit/core';
import { builtinModules } from '../modules.js';
import { writeOut } from '../shared/run-config.js';

/** A JSON-schema node, as far as listing needs it. */
interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  prefixItems?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

/** One argument of a component as `oodkit list` shows it. */
export interface ArgInfo {
  name: string;
  type: string;
  default?: unknown;
  required: boolean;
  constraints: string[];
  description?: string;
}

export interface ComponentInfo {
  kind: ComponentKind;
  name: string;
  description: string;
  provider: string;
  args: ArgInfo[];
  grid: Record<string, unknown[]>;
  /** Networks: the feature layers multi-layer methods can name (OpenOOD's return_feature_list order). */
  featureLayers?: string[];
  /** Postprocessors: whether `{name, layers, aggregator}` can run the method per feature layer. */
  layerwise?: boolean;
  /** The args' JSON schema (input side: defaults are optional). */
  schema: unknown;
}

/** A JSON-schema type as a short string: `number`, `integer[]`, `'a' | 'b'`, `number | null`. */
export function typeOfSchema(schema: JsonSchema | undefined): string {
  if (!schema) return 'any';
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return [...new Set(union.map(typeOfSchema))].join(' | ');
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length === 0) return 'any';
  return types
    .map((type) => {
      if (type === 'array')
        return schema.prefixItems ? `[${schema.prefixItems.map(typeOfSchema).join(', ')}]` : `${typeOfSchema(schema.items)}[]`;
      if (type === 'object') {
        // a record with typed values (e.g. a grid: argument → list of values) says what the values are
        const values = schema.additionalProperties;
        return typeof values === 'object' && Object.keys(values).length > 0 ? `mapping of ${typeOfSchema(values)}` : 'mapping';
      }
      return type;
    })
    .join(' | ');
}

const SAFE = Number.MAX_SAFE_INTEGER;

function constraintsOf(schema: JsonSchema): string[] {
  const out: string[] = [];
  if (schema.exclusiveMinimum !== undefined) out.push(`> ${schema.exclusiveMinimum}`);
  if (schema.minimum !== undefined && schema.minimum !== -SAFE) out.push(`>= ${schema.minimum}`);
  if (schema.exclusiveMaximum !== undefined) out.push(`< ${schema.exclusiveMaximum}`);
  if (schema.maximum !== undefined && schema.maximum !== SAFE) out.push(`<= ${schema.maximum}`);
  return out;
}

/** A component's args, types, defaults and grid, derived from its zod schema. */
export function describeComponent(definition: AnyComponentDefinition, provider: string): ComponentInfo {
  const schema = z.toJSONSchema(definition.args, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const required = new Set(schema.required ?? []);
  const args = Object.entries(schema.properties ?? {}).map(([name, property]): ArgInfo => ({
    name,
    type: typeOfSchema(property),
    ...(property.default !== undefined ? { default: property.default } : {}),
    required: required.has(name) && property.default === undefined,
    constraints: constraintsOf(property),
    ...(property.description ? { description: property.description } : {}),
  }));
  const grid = Object.fromEntries(Object.entries(definition.grid ?? {}).map(([key, values]) => [key, [...(values as unknown[])]]));
  return {
    kind: definition.kind,
    name: definition.name,
    description: definition.description,
    provider,
    args,
    grid,
    ...(definition.featureLayers ? { featureLayers: [...definition.featureLayers] } : {}),
    ...(definition.layerwise ? { layerwise: true } : {}),
    schema,
  };
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function formatArg(arg: ArgInfo): string {
  const type = [arg.type, ...arg.constraints].join(' ');
  const tail = arg.default !== undefined ? ` = ${formatValue(arg.default)}` : arg.required ? ' (required)' : ' (optional)';
  return `${arg.name}: ${type}${tail}${arg.description ? `  — ${arg.description}` : ''}`;
}

/** The text listing: one block per kind, each component with description, provider, args and grid. */
export function formatListing(app: AppContainer, kinds: readonly ComponentKind[]): string {
  const lines: string[] = [];
  for (const kind of kinds) {
    const entries = app.registry.list(kind);
    lines.push(`${kind} (${entries.length === 0 ? 'none registered' : entries.length})`);
    for (const { definition, provider } of entries) {
      const info = describeComponent(definition, provider);
      lines.push(`  ${info.name} — ${info.description}  [${provider}]`);
      if (info.args.length === 0) lines.push('      args: (none)');
      info.args.forEach((arg, index) => lines.push(`      ${index === 0 ? 'args: ' : '      '}${formatArg(arg)}`));
      const grid = Object.entries(info.grid);
      grid.forEach(([key, values], index) =>
        lines.push(`      ${index === 0 ? 'grid: ' : '      '}${key} ∈ {${values.map(formatValue).join(', ')}}`),
      );
      if (info.featureLayers) lines.push(`      feature layers: ${info.featureLayers.join(', ')}`);
      if (info.layerwise) lines.push('      multi-layer: yes (layers: [...], aggregator: fisher | mean_normalized | std_normalized)');
    }
    lines.push('');
  }
  return lines.join('\n');
}

function formatSections(app: AppContainer): string {
  const rows = app.sections.list().map(({ section, provider }) => ({ key: section.key, description: section.description, provider }));
  const width = Math.max(...rows.map((r) => r.key.length));
  return [`config keys (${rows.length})`, ...rows.map((r) => `  ${r.key.padEnd(width)}  ${r.description}  [${r.provider}]`), ''].join('\n');
}

interface ListOptions {
  json?: boolean;
  plugin?: string[];
  config?: string[];
}

/** `oodkit list [kind]`: every registered component (built-in and from plugins) with args and grids. */
export function registerList(program: Command): void {
  program
    .command('list')
    .description('list registered components per kind, with args (type = default) and search grids')
    .argument('[kind]', `one of: ${COMPONENT_KINDS.join(', ')}, or 'keys' for the config's top-level keys`)
    .option('--json', 'machine-readable output')
    .option('-p, --plugin <specs...>', 'also load these plugins (package names or paths)')
    .option('-c, --config <files...>', "also load the plugins these config files name under 'plugins:'")
    .action(async (kind: string | undefined, options: ListOptions) => {
      if (kind !== undefined && kind !== 'keys' && !isComponentKind(kind)) {
        throw new UsageError(
          `unknown kind '${kind}'${didYouMean(kind, [...COMPONENT_KINDS, 'keys'])}; kinds: ${COMPONENT_KINDS.join(', ')}, keys`,
        );
      }
      const plugins: (PluginSpec | string)[] = [...(options.plugin ?? [])];
      if (options.config) plugins.push(...pluginSpecsOf(readConfigFiles(options.config)));
      const app = await createAppContainer({ builtins: builtinModules, plugins });
      const kinds = kind === undefined || kind === 'keys' ? [...COMPONENT_KINDS] : [kind];
      if (options.json) {
        const components = Object.fromEntries(
          (kind === 'keys' ? [] : kinds).map((k) => [
            k,
            app.registry.list(k).map(({ definition, provider }) => describeComponent(definition, provider)),
          ]),
        );
        const keys = app.sections.list().map(({ section, provider }) => ({
          key: section.key,
          description: section.description,
          provider,
          ...(section.schema ? { schema: z.toJSONSchema(section.schema, { io: 'input', unrepresentable: 'any' }) } : {}),
        }));
        writeOut(JSON.stringify(kind === undefined ? { components, keys } : kind === 'keys' ? { keys } : { components }, null, 2));
        return;
      }
      if (kind === 'keys') writeOut(formatSections(app));
      else writeOut(formatListing(app, kinds) + (kind === undefined ? `\n${formatSections(app)}` : ''));
    });
}
