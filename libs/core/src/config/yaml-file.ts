import { readFileSync } from 'node:fs';
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document, type Node as YamlNode } from 'yaml';
import type { ConfigIssue } from '../errors/oodkit-error.js';
import { ConfigSources } from './sources.js';
import { childPath, isPlainObject, type ConfigObject } from './tree.js';

/** One parsed config file: its value and, per key path, the line that set it. */
export interface ParsedConfigFile {
  value: ConfigObject;
  sources: ConfigSources;
}

/**
 * The YAML 1.2 core schema's own tags. Anything else (`!foo`, `!!python/object`, `!!binary`,
 * `!!timestamp`, ...) is refused: a config is data, never a constructor call.
 */
const ALLOWED_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((name) => `tag:yaml.org,2002:${name}`));

/** The first tag outside the core schema in a parsed document, in `!!name` form. */
export function firstDisallowedTag(doc: Document): string | undefined {
  let found: string | undefined;
  visit(doc, (_key, node) => {
    const tag = (node as { tag?: string }).tag;
    if (tag !== undefined && !ALLOWED_TAGS.has(tag)) {
      found = shortTag(tag);
      return visit.BREAK;
    }
    return undefined;
  });
  return found;
}

/** Parses YAML text; every problem (syntax, custom tags, bad keys) is returned, not only the first. */
export function parseConfigText(text: string, file: string): ParsedConfigFile | { issues: ConfigIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    schema: 'core',
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    merge: false,
    strict: true,
  });
  const issues: ConfigIssue[] = [];
  const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  for (const problem of [...doc.errors, ...doc.warnings]) {
    if (problem.code === 'TAG_RESOLVE_FAILED') continue; // reported below, with the tag's name
    issues.push({ path: '', file, line: lineOf(problem.pos[0]), message: `invalid YAML: ${firstLine(problem.message)}` });
  }
  const sources = new ConfigSources();
  const walk = (node: unknown, path: string): void => {
    if (!node || isAlias(node)) return;
    const tagged = node as YamlNode;
    if (tagged.tag !== undefined && !ALLOWED_TAGS.has(tagged.tag)) {
      issues.push({
        path,
        file,
        line: lineOf(tagged.range?.[0]),
        message: `tag '${shortTag(tagged.tag)}' is not allowed: configs use plain YAML (strings, numbers, booleans, null, lists, mappings)`,
      });
    }
    if (isMap(node)) {
      for (const item of node.items) {
        if (!isPair(item)) continue;
        const keyNode = item.key as YamlNode | null;
        const line = lineOf(keyNode?.range?.[0] ?? (item.value as YamlNode | null)?.range?.[0]);
        if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
          issues.push({ path, file, line, message: 'mapping keys must be plain strings' });
          continue;
        }
        const key = String(keyNode.value);
        if (key === '' || key.includes('.') || key.includes('@{')) {
          issues.push({
            path,
            file,
            line,
            message: `key '${key}' is not allowed: keys must be non-empty and contain no '.' (the path separator) or '@{'`,
          });
          continue;
        }
        const child = childPath(path, key);
        sources.set(child, { file, line });
        walk(item.value, child);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        const child = childPath(path, index);
        sources.set(child, { file, line: lineOf((item as YamlNode | null)?.range?.[0]) });
        walk(item, child);
      });
    }
  };
  walk(doc.contents, '');
  if (issues.length > 0) return { issues };

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    return { issues: [{ path: '', file, message: `invalid YAML: ${error instanceof Error ? error.message : String(error)}` }] };
  }
  if (value === null || value === undefined) value = {};
  if (!isPlainObject(value)) {
    return {
      issues: [{ path: '', file, line: lineOf(doc.contents?.range?.[0]), message: 'a config file must be a mapping of keys to values' }],
    };
  }
  return { value, sources };
}

/**
 * Why `bytes` cannot be a YAML config, or undefined when they can: NUL bytes or invalid UTF-8 mean binary
 * data (a `.npy` array, an image, a checkpoint), which would otherwise be echoed back in parse errors.
 */
export function binaryContentReason(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kind = head.subarray(0, 6).equals(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]))
    ? 'a NumPy .npy array'
    : head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
      ? 'a PNG image'
      : head.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))
        ? 'a zip archive (e.g. a PyTorch checkpoint)'
        : head.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))
          ? 'gzip-compressed data'
          : undefined;
  if (kind) return `is ${kind}, not a YAML config`;
  if (head.includes(0)) return 'is a binary file (it contains NUL bytes), not a YAML config';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head);
  } catch {
    return 'is not UTF-8 text, expected a YAML config';
  }
  return undefined;
}

/** Reads and parses one file; a missing, unreadable or binary file is one issue naming it. */
export function readConfigFile(file: string): ParsedConfigFile | { issues: ConfigIssue[] } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, expected a YAML file' : String(error);
    return { issues: [{ path: '', file, message: reason }] };
  }
  const binary = binaryContentReason(bytes);
  if (binary) return { issues: [{ path: '', file, message: binary }] };
  return parseConfigText(bytes.toString('utf8'), file);
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function shortTag(tag: string): string {
  return tag.startsWith('tag:yaml.org,2002:') ? `!!${tag.slice('tag:yaml.org,2002:'.length)}` : tag;
}
