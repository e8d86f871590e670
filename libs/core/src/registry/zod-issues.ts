import type { z } from 'zod';
import type { ConfigIssue } from '../errors/oodkit-error.js';
import { didYouMean } from '../errors/suggest.js';

/** Keys a zod object schema accepts at `path` (empty when the path leaves object schemas). */
export function schemaKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: unknown = schema;
  for (const segment of path) {
    node = unwrap(node);
    const shape = (node as { shape?: Record<string, unknown> }).shape;
    if (!shape || typeof segment !== 'string' || !(segment in shape)) return [];
    node = shape[segment];
  }
  node = unwrap(node);
  const shape = (node as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(node: unknown): unknown {
  let current = node as { unwrap?: () => unknown; def?: { innerType?: unknown } } | undefined;
  for (let depth = 0; depth < 8 && current; depth++) {
    if (current.def?.innerType) current = current.def.innerType as typeof current;
    else break;
  }
  return current;
}

export function joinPath(base: string, path: readonly PropertyKey[]): string {
  return [base, ...path.map(String)].filter((part) => part !== '').join('.');
}

/** zod issues → ConfigIssues under `basePath`, with "did you mean" for unknown keys. */
export function zodIssuesToConfigIssues(error: z.ZodError, basePath: string, schema: z.ZodType): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = schemaKeysAt(schema, issue.path);
      for (const key of issue.keys) {
        out.push({
          path: joinPath(basePath, [...issue.path, key]),
          message: `unknown key '${key}'${didYouMean(key, known)}; valid keys: ${known.join(', ') || '(none)'}`,
        });
      }
      continue;
    }
    out.push({ path: joinPath(basePath, issue.path), message: issue.message });
  }
  return out;
}
