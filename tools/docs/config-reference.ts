/**
 * Writes docs/config-reference.md from the registered schemas: every config section (top-level key)
 * and every component of every kind with its args (type, default, constraints, description) and
 * search grid. `npm run docs:config` regenerates it; tools/docs/tests/config-reference.test.ts fails
 * when the committed file differs from what the code would generate.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { COMPONENT_KINDS, createAppContainer, isComponentKind, writeFileAtomic, type AppContainer } from '@oodkit/core';
import { builtinModules, describeComponent, typeOfSchema } from '@oodkit/cli';

export const WORKSPACE = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REFERENCE_FILE = join(WORKSPACE, 'docs', 'config-reference.md');
/** Plugins of this repository documented beside the built-ins (paths relative to the workspace). */
export const DOCUMENTED_PLUGINS = ['plugins/neco'];

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  description?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  additionalProperties?: unknown;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (value: unknown) => (value === undefined ? '' : `\`${cell(typeof value === 'string' ? value : JSON.stringify(value))}\``);
const SAFE = Number.MAX_SAFE_INTEGER;

/** The keys of an object schema as a short name for it: `{images, labels}`. */
const shapeName = (o: JsonSchema) => `{${Object.keys(o.properties ?? {}).join(', ')}}`;

/** typeOfSchema, with mappings named by their keys and lists of unions parenthesised: `(string | {name, args})[]`. */
function typeOf(s: JsonSchema): string {
  const members = s.anyOf ?? s.oneOf;
  if (members && members.some((m) => m.properties)) return members.map((m) => (m.properties ? shapeName(m) : typeOf(m))).join(' | ');
  if (s.properties && Object.keys(s.properties).length > 0) return shapeName(s);
  const items = s.items;
  if (s.type === 'array' && items) {
    const inner = typeOf(items);
    return inner.includes(' | ') ? `(${inner})[]` : `${inner}[]`;
  }
  return typeOfSchema(s as never);
}

function constraints(s: JsonSchema): string {
  const out: string[] = [];
  if (s.exclusiveMinimum !== undefined) out.push(`> ${s.exclusiveMinimum}`);
  if (s.minimum !== undefined && s.minimum !== -SAFE) out.push(`≥ ${s.minimum}`);
  if (s.exclusiveMaximum !== undefined) out.push(`< ${s.exclusiveMaximum}`);
  if (s.maximum !== undefined && s.maximum !== SAFE) out.push(`≤ ${s.maximum}`);
  return out.join(', ');
}

/** The object schemas inside `s`: itself, or each object alternative of a union. */
function objectsOf(s: JsonSchema): JsonSchema[] {
  if (s.properties) return [s];
  return (s.anyOf ?? s.oneOf ?? []).filter((m) => m.properties);
}

/**
 * Flattened rows `a.b.c` of a schema: every field of every nested mapping (list items as `a.*.b`), each
 * alternative of a union of mappings marked as such, down to `depth` levels.
 */
function schemaRows(s: JsonSchema, prefix: string, depth: number, out: string[], note = ''): void {
  const objects = objectsOf(s.type === 'array' && s.items ? s.items : s);
  const base = s.type === 'array' && s.items ? `${prefix}.*` : prefix;
  objects.forEach((obj, index) => {
    const alternative = objects.length > 1 ? `alternative ${index + 1} of ${objects.length}: ${shapeName(obj)}` : '';
    const required = new Set(obj.required ?? []);
    for (const [key, prop] of Object.entries(obj.properties ?? {})) {
      const path = base ? `${base}.${key}` : key;
      const need = required.has(key) && prop.default === undefined ? 'required' : code(prop.default);
      const where = [note, alternative].filter(Boolean).join('; ');
      const description = [where ? `(${where})` : '', prop.description ?? ''].filter(Boolean).join(' ');
      out.push(`| \`${path}\` | ${cell(typeOf(prop))} | ${need} | ${cell(constraints(prop))} | ${cell(description)} |`);
      if (depth > 0) schemaRows(prop, path, depth - 1, out);
    }
  });
}

/** `componentSection` schemas: a registered name, or `{ name, args }`. */
function isComponentSectionSchema(schema: z.ZodType | undefined): boolean {
  if (!schema) return false;
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const members = json.anyOf ?? [];
  return (
    members.some((m) => m.type === 'string') && members.some((m) => m.properties?.name !== undefined && m.properties?.args !== undefined)
  );
}

function sectionsPart(app: AppContainer): string[] {
  const lines = ['## Config sections (top-level keys)', ''];
  lines.push('Every top-level key of a config, the library that owns it, and its fields. Component sections');
  lines.push('(`network`, `trainer`, `postprocessor`, ...) take `{ name, args }` or just the name; their args are');
  lines.push('listed per component below.', '');
  for (const { section, provider } of app.sections.list()) {
    lines.push(`### \`${section.key}\``, '', `${section.description} — *${provider}*`, '');
    if (isComponentKind(section.key) && isComponentSectionSchema(section.schema)) {
      lines.push(
        `A component section: \`${section.key}: <name>\` or \`${section.key}: { name: <name>, args: {...} }\` with a registered ${section.key} (see [${section.key}](#${section.key}-components)).`,
        '',
      );
      continue;
    }
    if (!section.schema) {
      lines.push('(free-form: validated by its owner)', '');
      continue;
    }
    const schema = z.toJSONSchema(section.schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    const rows: string[] = [];
    schemaRows(schema, section.key, 8, rows);
    if (rows.length === 0) {
      lines.push(`Type: ${cell(typeOf(schema))}${schema.default !== undefined ? `, default ${code(schema.default)}` : ''}.`, '');
      continue;
    }
    lines.push('| key | type | default | constraints | description |', '|---|---|---|---|---|', ...rows, '');
  }
  return lines;
}

function componentsPart(app: AppContainer): string[] {
  const lines: string[] = ['## Components', ''];
  for (const kind of COMPONENT_KINDS) {
    const entries = app.registry.list(kind);
    lines.push(`### ${kind} components`, '');
    if (entries.length === 0) {
      lines.push('(none registered)', '');
      continue;
    }
    lines.push(entries.map(({ definition }) => `\`${definition.name}\``).join(' · '), '');
    for (const { definition, provider } of entries) {
      const info = describeComponent(definition, provider);
      lines.push(`#### ${kind} \`${info.name}\``, '', `${info.description} — *${provider}*`, '');
      if (info.args.length === 0) lines.push('No args.', '');
      else {
        lines.push('| arg | type | default | constraints | description |', '|---|---|---|---|---|');
        for (const arg of info.args) {
          const def = arg.default !== undefined ? code(arg.default) : arg.required ? 'required' : 'optional';
          lines.push(
            `| \`${arg.name}\` | ${cell(arg.type)} | ${def} | ${cell(arg.constraints.join(', '))} | ${cell(arg.description ?? '')} |`,
          );
        }
        lines.push('');
      }
      const grid = Object.entries(info.grid);
      if (grid.length > 0)
        lines.push(
          `Search grid: ${grid.map(([key, values]) => `\`${key}\` ∈ {${values.map((v) => JSON.stringify(v)).join(', ')}}`).join('; ')}`,
          '',
        );
    }
  }
  return lines;
}

/** The whole reference as Markdown (deterministic: registries sort by name, sections keep load order). */
export async function renderConfigReference(): Promise<string> {
  const app = await createAppContainer({
    builtins: builtinModules,
    plugins: DOCUMENTED_PLUGINS.map((spec) => ({ spec: `./${spec}`, baseDir: WORKSPACE })),
  });
  const lines = [
    '# Config reference',
    '',
    '<!-- Generated by `npm run docs:config` (tools/docs/config-reference.ts) from the registered schemas. Do not edit: CI fails when it is stale. -->',
    '',
    `Built-in libraries plus the example plugin(s) ${DOCUMENTED_PLUGINS.map((p) => `\`${p}\``).join(', ')} (loaded with \`plugins:\`).`,
    'The same data, machine-readable: `npx oodkit list --json`. Types are the accepted input (defaults make a key optional).',
    '',
    ...sectionsPart(app),
    ...componentsPart(app),
  ];
  return (
    lines
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFileAtomic(REFERENCE_FILE, await renderConfigReference());
  process.stdout.write(`wrote ${REFERENCE_FILE}\n`);
}
