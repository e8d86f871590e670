import { z } from 'zod';
import type { ComponentKind } from '../registry/kinds.js';
import type { ComponentRegistry } from '../registry/registry.js';
import { childOf, isPlainObject } from './tree.js';
import { unwrapSchema } from './value-kind.js';

/**
 * Component references inside schemas: the `args` field of a `{ name, args }` mapping that selects a
 * registered component is remembered here with its kind, so the schema walk below can continue into the
 * selected component's own args schema. Keyed by the `args` field's schema instance, which survives
 * `.describe()`, `.extend()` and wrapping of the enclosing object.
 */
const componentArgsKind = new WeakMap<object, ComponentKind>();

/**
 * `{ name, args }` selecting a registered component of `kind` (plus `extra` keys beside them). Overrides
 * and docs see through it: `--x.args.k=1` is typed by the named component's args schema. Validation of
 * `args` stays with the registry (`registry.validate(kind, section, path)`).
 */
export function componentObjectSchema<E extends z.ZodRawShape = Record<never, never>>(kind: ComponentKind, extra?: E) {
  const args = z.record(z.string(), z.unknown()).optional().describe(`the ${kind}'s own arguments (see its ${kind} component)`);
  componentArgsKind.set(args, kind);
  return z.strictObject({ name: z.string().min(1).describe(`a registered ${kind}`), args, ...(extra ?? ({} as E)) });
}

/** A component reference as written in configs: the registered name alone, or `{ name, args }`. */
export function componentRefSchema<E extends z.ZodRawShape = Record<never, never>>(kind: ComponentKind, extra?: E) {
  return z.union([z.string().min(1), componentObjectSchema(kind, extra)]);
}

/** The component kind whose args `schema` stands for, when it is the `args` field of a component reference. */
export function componentKindOfArgs(schema: unknown): ComponentKind | undefined {
  return schema !== null && typeof schema === 'object' ? componentArgsKind.get(schema) : undefined;
}

/** The kind of the component reference `schema` is (a `{name, args}` mapping or a union with one), if any. */
export function componentKindOfRef(schema: unknown): ComponentKind | undefined {
  const node = unwrapSchema(schema) as Def | undefined;
  if (node?.def?.type === 'object') return componentKindOfArgs(node.def.shape?.args);
  if (node?.def?.type === 'union') {
    for (const option of node.def.options ?? []) {
      const kind = componentKindOfRef(option);
      if (kind) return kind;
    }
  }
  return undefined;
}

interface Def {
  def?: {
    type?: string;
    shape?: Record<string, unknown>;
    catchall?: unknown;
    valueType?: unknown;
    element?: unknown;
    items?: unknown[];
    rest?: unknown;
    options?: unknown[];
    left?: unknown;
    right?: unknown;
  };
}

export interface SchemaWalkContext {
  /** Resolves component references by name; without it the walk stops at a component's `args`. */
  readonly registry?: Pick<ComponentRegistry, 'has' | 'get'>;
  /**
   * Which union branches may know a key: `'any'` (default) accepts a key of any alternative, so an
   * override can start filling another branch and validation explains a mix; `'fitting'` only the branches
   * the current value belongs to (profiles, which must never turn one alternative into another).
   */
  readonly unions?: 'any' | 'fitting';
  /** Called when a key is found only in a union branch other than the one the current (non-empty) mapping fits. */
  readonly onBranchSwitch?: () => void;
}

function isNever(schema: unknown): boolean {
  return (schema as Def | undefined)?.def?.type === 'never';
}

/** Whether a mapping `value` could belong to the object schema `option` (every key it has is declared). */
function fits(option: unknown, value: unknown): boolean {
  const node = unwrapSchema(option) as Def | undefined;
  if (!isPlainObject(value)) return node?.def?.type !== 'object';
  if (node?.def?.type !== 'object') return false;
  const shape = node.def.shape ?? {};
  const open = node.def.catchall !== undefined && !isNever(node.def.catchall);
  return Object.keys(value).every((key) => open || Object.prototype.hasOwnProperty.call(shape, key));
}

/** One step of {@link schemaAtPath}: the schema of `segment` below `schema`, whose current value is `value`. */
function step(schema: unknown, segment: string, value: unknown, ctx: SchemaWalkContext): unknown {
  const node = unwrapSchema(schema) as Def | undefined;
  const def = node?.def;
  if (!def) return undefined;
  switch (def.type) {
    case 'object': {
      const shape = def.shape ?? {};
      if (Object.prototype.hasOwnProperty.call(shape, segment)) {
        const child = shape[segment];
        const kind = componentKindOfArgs(child);
        if (kind === undefined) return child;
        // `args` of a component reference: typed by the component the sibling `name` selects.
        const name = typeof value === 'string' ? value : isPlainObject(value) ? value.name : undefined;
        if (typeof name !== 'string' || !ctx.registry?.has(kind, name)) return undefined;
        return ctx.registry.get(kind, name).args;
      }
      // Keys an open object (z.looseObject) does not declare may be written in files, but an override of
      // one is more likely a typo: it is unknown here, with a suggestion.
      return undefined;
    }
    case 'record':
      return def.valueType;
    case 'array':
      return /^\d+$/.test(segment) ? def.element : undefined;
    case 'tuple': {
      if (!/^\d+$/.test(segment)) return undefined;
      return def.items?.[Number(segment)] ?? def.rest ?? undefined;
    }
    case 'union': {
      // The branch the current value belongs to, else any branch that knows the key.
      const known = (def.options ?? []).map((option) => ({ option, child: step(option, segment, value, ctx) })).filter((c) => c.child);
      const fitting = known.find((c) => fits(c.option, value));
      if (ctx.unions === 'fitting') return fitting?.child;
      if (!fitting && known.length > 0 && isPlainObject(value) && Object.keys(value).length > 0) ctx.onBranchSwitch?.();
      return (fitting ?? known[0])?.child;
    }
    case 'intersection':
      return step(def.left, segment, value, ctx) ?? step(def.right, segment, value, ctx);
    default:
      return undefined;
  }
}

/**
 * The schema of the key at `path` below `schema`, following the config's current `value` there: union
 * branches are chosen by the keys the value has, `{name, args}` component references continue into the
 * named component's args schema (`ctx.registry`); only declared keys are known.
 * Undefined when no schema knows the key.
 */
export function schemaAtPath(schema: unknown, path: readonly string[], value: unknown, ctx: SchemaWalkContext = {}): z.ZodType | undefined {
  let node: unknown = schema;
  let current = value;
  for (const segment of path) {
    node = step(node, segment, current, ctx);
    if (node === undefined) return undefined;
    current = childOf(current, segment).value;
  }
  return node as z.ZodType | undefined;
}

/**
 * Where a key of another union alternative starts: e.g. `sio.synthetic.images` while `sio.synthetic` is a
 * generator source `{name, count}` gives `['sio', 'synthetic']` (the mapping to start afresh, so
 * `--sio.synthetic.images=a.npy --sio.synthetic.labels=b.npy` switches the source). Undefined otherwise.
 */
export function branchSwitchAt(
  schema: unknown,
  path: readonly string[],
  value: unknown,
  ctx: SchemaWalkContext = {},
): string[] | undefined {
  let node: unknown = schema;
  let current = value;
  for (let i = 0; i < path.length; i++) {
    let switched = false;
    node = step(node, path[i]!, current, { ...ctx, unions: 'any', onBranchSwitch: () => (switched = true) });
    if (node === undefined) return undefined;
    if (switched) return path.slice(0, i);
    current = childOf(current, path[i]!).value;
  }
  return undefined;
}

/** Keys a schema declares at its top: an object's shape, every object branch of a union (for suggestions). */
export function schemaKeys(schema: unknown): string[] {
  const node = unwrapSchema(schema) as Def | undefined;
  if (node?.def?.type === 'object') return Object.keys(node.def.shape ?? {});
  if (node?.def?.type === 'union') return [...new Set((node.def.options ?? []).flatMap((option) => schemaKeys(option)))];
  if (node?.def?.type === 'intersection') return [...new Set([...schemaKeys(node.def.left), ...schemaKeys(node.def.right)])];
  return [];
}

/** The schema of `path` below `schema` with no value or registry to follow (see {@link schemaAtPath}). */
export function schemaBelow(schema: z.ZodType | undefined, path: readonly string[]): z.ZodType | undefined {
  return schemaAtPath(schema, path, undefined);
}

/** Keys an object schema (or a union of them) declares at its top; empty for anything else. */
export function schemaShapeKeys(schema: z.ZodType | undefined): string[] {
  return schemaKeys(schema);
}
