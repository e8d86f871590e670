import { ConfigError, type ConfigIssue } from '../errors/oodkit-error.js';
import { didYouMean } from '../errors/suggest.js';
import type { ConfigSources } from './sources.js';
import { allPaths, childKeys, childOf, childPath, cloneData, isPlainObject, splitPath, typeName, type ConfigObject } from './tree.js';

/** A string split into literal text and `@{path}` references; `@@{` is a literal `@{`. */
export type TemplatePart = { text: string } | { ref: string };

const REF_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function parseTemplate(value: string): { parts: TemplatePart[] } | { error: string } {
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < value.length) {
    if (value.startsWith('@@{', i)) {
      text += '@{';
      i += 3;
    } else if (value.startsWith('@{', i)) {
      const end = value.indexOf('}', i + 2);
      if (end < 0) return { error: `unterminated reference in '${value}' (write @@{ for a literal '@{')` };
      const ref = value.slice(i + 2, end).trim();
      if (!REF_PATH.test(ref)) return { error: `malformed reference '@{${value.slice(i + 2, end)}}': expected @{key.path}` };
      if (text) parts.push({ text });
      text = '';
      parts.push({ ref });
      i = end + 1;
    } else {
      text += value[i];
      i += 1;
    }
  }
  if (text || parts.length === 0) parts.push({ text });
  return { parts };
}

/** True when a string holds a reference or an escape, i.e. resolving may change it. */
export function hasReferenceSyntax(value: string): boolean {
  return value.includes('@{');
}

const FAILED = Symbol('failed');

/**
 * Resolves every `@{a.b}` in the config: in nested objects, in lists and inside longer strings. A
 * value that is exactly one reference takes the referenced value with its type (deep-copied); inside
 * a longer string the referenced scalar is interpolated. References may point at references
 * (resolved transitively) and through them (`@{model.depth}` where `model: '@{presets.small}'`).
 * Every cycle and dangling reference is reported at once, located at the referring key.
 */
export function resolveReferences<T extends { value: ConfigObject; sources: ConfigSources }>(config: T): T {
  const { config: out, issues } = resolveReferencesCollecting(config);
  if (issues.length > 0) throw new ConfigError(issues, 'configuration has unresolvable references');
  return out;
}

/**
 * Like {@link resolveReferences}, but returns the problems instead of throwing. Keys whose value
 * could not be resolved are left out of the result and listed in `failed`, so a later validation
 * pass can skip them instead of reporting them twice.
 */
export function resolveReferencesCollecting<T extends { value: ConfigObject; sources: ConfigSources }>(
  config: T,
): { config: T; issues: ConfigIssue[]; failed: string[] } {
  const resolver = new Resolver(config.value, config.sources);
  const value = resolver.resolveNode('', config.value);
  const failed: string[] = [];
  const prune = (node: unknown, path: string): unknown => {
    if (node === FAILED) {
      failed.push(path);
      return undefined;
    }
    if (Array.isArray(node)) return node.map((item, index) => prune(item, childPath(path, index)));
    if (isPlainObject(node)) {
      const out: ConfigObject = {};
      for (const [key, child] of Object.entries(node)) {
        const kept = prune(child, childPath(path, key));
        if (kept !== undefined || child === undefined) out[key] = kept;
      }
      return out;
    }
    return node;
  };
  const pruned = resolver.issues.length > 0 ? (prune(value, '') as ConfigObject) : (value as ConfigObject);
  return { config: { ...config, value: pruned }, issues: resolver.issues, failed };
}

class Resolver {
  readonly issues: ConfigIssue[] = [];
  private readonly memo = new Map<string, unknown>();
  private readonly stack: string[] = [];
  private paths?: string[];

  constructor(
    private readonly root: ConfigObject,
    private readonly sources: ConfigSources,
  ) {}

  private report(path: string, message: string): void {
    const where = this.sources.locate(path);
    this.issues.push({
      path,
      message,
      ...(where?.file !== undefined ? { file: where.file } : {}),
      ...(where?.line !== undefined ? { line: where.line } : {}),
    });
  }

  resolveNode(path: string, raw: unknown): unknown {
    if (this.memo.has(path)) return this.memo.get(path);
    const onStack = this.stack.indexOf(path);
    if (onStack >= 0) {
      const chain = [...this.stack.slice(onStack), path].join(' -> ');
      this.report(path, `reference cycle: ${chain}`);
      return FAILED;
    }
    this.stack.push(path);
    let out: unknown;
    if (typeof raw === 'string') out = this.resolveString(path, raw);
    else if (Array.isArray(raw)) out = raw.map((item, index) => this.resolveNode(childPath(path, index), item));
    else if (isPlainObject(raw)) {
      const obj: ConfigObject = {};
      for (const [key, child] of Object.entries(raw)) obj[key] = this.resolveNode(childPath(path, key), child);
      out = obj;
    } else out = raw;
    this.stack.pop();
    this.memo.set(path, out);
    return out;
  }

  private resolveString(path: string, raw: string): unknown {
    if (!hasReferenceSyntax(raw)) return raw;
    const parsed = parseTemplate(raw);
    if ('error' in parsed) {
      this.report(path, parsed.error);
      return FAILED;
    }
    const [first] = parsed.parts;
    if (parsed.parts.length === 1 && first && 'ref' in first) return this.resolveTarget(first.ref, path);
    let text = '';
    for (const part of parsed.parts) {
      if ('text' in part) {
        text += part.text;
        continue;
      }
      const value = this.resolveTarget(part.ref, path);
      if (value === FAILED) return FAILED;
      if (value !== null && typeof value === 'object') {
        this.report(
          path,
          `@{${part.ref}} is a ${typeName(value)} and cannot be inserted into a string; reference it as the whole value instead`,
        );
        return FAILED;
      }
      text += String(value);
    }
    return text;
  }

  /** The resolved value at `target`, following references met on the way. */
  private resolveTarget(target: string, referrer: string): unknown {
    let current: unknown = this.root;
    let currentPath = '';
    let resolved = false;
    for (const segment of splitPath(target)) {
      if (!resolved && typeof current === 'string' && hasReferenceSyntax(current)) {
        current = this.resolveNode(currentPath, current);
        resolved = true;
      }
      if (current === FAILED) return FAILED;
      const next = childOf(current, segment);
      if (!next.found) {
        this.paths ??= allPaths(this.root);
        const siblings = childKeys(current).map((key) => childPath(currentPath, key));
        const hint = didYouMean(target, siblings.length > 0 ? [...siblings, ...this.paths] : this.paths);
        this.report(referrer, `@{${target}} refers to a missing key '${target}'${hint}`);
        return FAILED;
      }
      current = next.value;
      currentPath = childPath(currentPath, segment);
    }
    const value = resolved ? current : this.resolveNode(currentPath, current);
    return value === FAILED ? FAILED : cloneData(value);
  }
}
