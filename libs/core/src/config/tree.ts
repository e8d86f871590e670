/** Plain-object helpers shared by the config stages: dotted paths, leaf walks, deep merge. */

export type ConfigObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is ConfigObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Segments of a dotted path; '' is the root. */
export function splitPath(path: string): string[] {
  return path === '' ? [] : path.split('.');
}

export function joinSegments(segments: readonly (string | number)[]): string {
  return segments.map(String).join('.');
}

/** A child path of `parent` ('' is the root). */
export function childPath(parent: string, key: string | number): string {
  return parent === '' ? String(key) : `${parent}.${key}`;
}

/** Child of an object or list (numeric segments index lists); `found` distinguishes a stored undefined. */
export function childOf(value: unknown, segment: string): { found: boolean; value: unknown } {
  if (Array.isArray(value)) {
    if (!/^\d+$/.test(segment)) return { found: false, value: undefined };
    const index = Number(segment);
    return index < value.length ? { found: true, value: value[index] } : { found: false, value: undefined };
  }
  if (isPlainObject(value) && Object.prototype.hasOwnProperty.call(value, segment)) {
    return { found: true, value: value[segment] };
  }
  return { found: false, value: undefined };
}

export function getPath(root: unknown, segments: readonly string[]): { found: boolean; value: unknown } {
  let current: unknown = root;
  for (const segment of segments) {
    const next = childOf(current, segment);
    if (!next.found) return next;
    current = next.value;
  }
  return { found: true, value: current };
}

/** Keys directly below a value, as path segments (list indices as strings). */
export function childKeys(value: unknown): string[] {
  if (Array.isArray(value)) return value.map((_, index) => String(index));
  if (isPlainObject(value)) return Object.keys(value);
  return [];
}

/** Deep copy of plain data; shared subtrees would otherwise become YAML anchors when printed. */
export function cloneData<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => cloneData(item)) as T;
  if (isPlainObject(value)) {
    const out: ConfigObject = {};
    for (const [key, child] of Object.entries(value)) out[key] = cloneData(child);
    return out as T;
  }
  return value;
}

/** Every path that holds a value, parents before children (lists contribute their indices). */
export function allPaths(value: unknown, base = ''): string[] {
  const out: string[] = [];
  for (const key of childKeys(value)) {
    const path = childPath(base, key);
    out.push(path);
    out.push(...allPaths(childOf(value, key).value, path));
  }
  return out;
}

/** A human name for a value's type, as used in error messages. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (isPlainObject(value)) return 'mapping';
  return typeof value;
}
