import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { isPlainObject } from './tree.js';
import { firstDisallowedTag } from './yaml-file.js';

/** The type an override value is coerced to. 'any' parses the text as a YAML value. */
export type ValueKind = 'number' | 'boolean' | 'string' | 'list' | 'mapping' | 'any';

export function kindOfValue(value: unknown): ValueKind {
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'string') return 'string';
  if (Array.isArray(value)) return 'list';
  if (isPlainObject(value)) return 'mapping';
  return 'any';
}

interface ZodLike {
  def?: {
    type?: string;
    innerType?: unknown;
    in?: unknown;
    entries?: Record<string, unknown>;
    values?: unknown[];
    element?: unknown;
    shape?: Record<string, unknown>;
    valueType?: unknown;
    options?: unknown[];
  };
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional', 'lazy']);

/** Strips default/optional/nullable/... wrappers (and a pipe's input side) to the schema that decides the type. */
export function unwrapSchema(schema: unknown): unknown {
  let node = schema as ZodLike | undefined;
  for (let depth = 0; depth < 16 && node?.def; depth++) {
    const type = node.def.type;
    if (type === 'lazy') {
      const getter = (node as { def: { getter?: () => unknown } }).def.getter;
      node = getter?.() as ZodLike | undefined;
    } else if (type !== undefined && WRAPPERS.has(type) && node.def.innerType) node = node.def.innerType as ZodLike;
    else if (type === 'pipe' && node.def.in) node = node.def.in as ZodLike;
    else break;
  }
  return node;
}

export function kindOfSchema(schema: z.ZodType | undefined): ValueKind {
  const node = unwrapSchema(schema) as ZodLike | undefined;
  switch (node?.def?.type) {
    case 'number':
    case 'int':
    case 'bigint':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'string':
    case 'template_literal':
      return 'string';
    case 'enum': {
      const values = Object.values(node.def.entries ?? {});
      return values.every((v) => typeof v === 'string') ? 'string' : 'any';
    }
    case 'literal': {
      const values = node.def.values ?? [];
      return values.every((v) => typeof v === 'string') ? 'string' : 'any';
    }
    case 'array':
    case 'tuple':
    case 'set':
      return 'list';
    case 'object':
    case 'record':
    case 'map':
      return 'mapping';
    default:
      return 'any';
  }
}

const REFERENCE = /@\{/;

/**
 * Text from the command line → a value of `kind`. A value holding a reference stays text: it is
 * resolved later and its type checked by validation. `null` clears any key.
 */
export function coerceText(text: string, kind: ValueKind): { value: unknown } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === 'null' || trimmed === '~') return { value: null };
  if (REFERENCE.test(text) && (kind !== 'list' && kind !== 'mapping' ? true : !/^[[{]/.test(trimmed))) {
    return { value: text };
  }
  switch (kind) {
    case 'string':
      return { value: text };
    case 'number': {
      const value = trimmed === '' ? Number.NaN : Number(trimmed.replace(/_/g, ''));
      if (Number.isNaN(value) && !/^[-+]?\.?nan$/i.test(trimmed)) return { error: `expected a number, got '${text}'` };
      return { value };
    }
    case 'boolean': {
      const lower = trimmed.toLowerCase();
      if (lower === 'true' || lower === '1') return { value: true };
      if (lower === 'false' || lower === '0') return { value: false };
      return { error: `expected a boolean (true/false/1/0), got '${text}'` };
    }
    case 'list':
    case 'mapping': {
      const parsed = parseYamlValue(text);
      if ('error' in parsed) return parsed;
      const ok = kind === 'list' ? Array.isArray(parsed.value) : isPlainObject(parsed.value);
      if (!ok) {
        const example = kind === 'list' ? '[1, 2]' : '{a: 1}';
        return { error: `expected a ${kind} written as YAML flow, e.g. ${example}, got '${text}'` };
      }
      return parsed;
    }
    case 'any':
      return parseYamlValue(text);
  }
}

/** One YAML value from a string, with the same safety rules as config files (core schema, no tags). */
export function parseYamlValue(text: string): { value: unknown } | { error: string } {
  const doc = parseDocument(text, { schema: 'core', uniqueKeys: true, merge: false });
  const tag = firstDisallowedTag(doc);
  if (tag !== undefined) return { error: `'${text}': tag '${tag}' is not allowed` };
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem)
    return { error: `'${text}' is not a valid YAML value: ${problem.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` };
  return { value: doc.toJS() };
}
