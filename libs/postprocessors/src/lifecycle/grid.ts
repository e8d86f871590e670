import { ConfigError, didYouMean, type ConfigIssue } from '@oodkit/core';
import type { z } from 'zod';

/** A grid as the search hands it over: keys of the typed grid may be present without values. */
export type PartialGrid = Readonly<Record<string, readonly unknown[] | undefined>>;

/** Per hyperparameter, the value a grid value actually takes on the fitted model (e.g. K capped at N). */
export type GridFolds = Readonly<Record<string, (value: unknown) => unknown>>;

/**
 * The grid with each folded key's values replaced by the value the fitted model uses, duplicates
 * removed and the first occurrence kept in place. A dropped duplicate is a later copy of an earlier
 * trial (same values everywhere), so the first-wins search picks what it would on the full grid.
 * Keys without values are left out.
 */
export function foldGrid(grid: PartialGrid, folds: GridFolds): Record<string, readonly unknown[]> {
  const out: Record<string, readonly unknown[]> = {};
  for (const [key, values] of Object.entries(grid)) {
    if (!values) continue;
    const fold = folds[key];
    out[key] = fold ? [...new Set(values.map(fold))] : values;
  }
  return out;
}

/**
 * Problems of a search grid given in config (OpenOOD's `postprocessor_sweep`) for a method whose
 * args schema is `schema`: every key must be one of its arguments (unknown keys get the closest
 * name suggested; OpenOOD's `<arg>_list` spelling is recognised), every value a non-empty list whose
 * entries that argument accepts. Paths start at `path` (e.g. `postprocessor.grid`).
 */
export function validateGrid(grid: unknown, schema: z.ZodObject, method: string, path: string): ConfigIssue[] {
  if (grid === undefined || grid === null) return [];
  if (typeof grid !== 'object' || Array.isArray(grid)) {
    return [{ path, message: `expected a mapping from ${method}'s argument names to lists of values, e.g. {K: [50, 100]}` }];
  }
  const names = Object.keys(schema.shape);
  const issues: ConfigIssue[] = [];
  for (const [key, values] of Object.entries(grid as Record<string, unknown>)) {
    const field = schema.shape[key] as z.ZodType | undefined;
    if (!field) {
      const stem = key.endsWith('_list') ? key.slice(0, -'_list'.length) : undefined;
      const hint =
        stem !== undefined && names.includes(stem)
          ? ` (grid keys are argument names: '${stem}'; OpenOOD's postprocessor_sweep writes '${key}')`
          : didYouMean(key, names);
      const known = names.length > 0 ? `${method}'s arguments: ${names.join(', ')}` : `${method} has no arguments to search`;
      issues.push({ path: `${path}.${key}`, message: `unknown argument '${key}'${hint}; ${known}` });
      continue;
    }
    if (!Array.isArray(values) || values.length === 0) {
      issues.push({
        path: `${path}.${key}`,
        message: `expected a non-empty list of values for '${key}', e.g. [${JSON.stringify(field.safeParse(undefined).data ?? 1)}]`,
      });
      continue;
    }
    values.forEach((value, i) => {
      const parsed = field.safeParse(value);
      const problem = parsed.success
        ? value === undefined || value === null
          ? 'expected a value'
          : undefined
        : parsed.error.issues[0]?.message;
      if (problem !== undefined) {
        issues.push({
          path: `${path}.${key}.${i}`,
          message: `${JSON.stringify(value)} is not a valid value of '${key}' for ${method}: ${problem}`,
        });
      }
    });
  }
  return issues;
}

/** A grid from config, validated (ConfigError listing every problem) and with each value as the schema parses it. */
export function parseGrid(grid: unknown, schema: z.ZodObject, method: string, path: string): Record<string, readonly unknown[]> {
  const issues = validateGrid(grid, schema, method, path);
  if (issues.length > 0) throw new ConfigError(issues, `${method}: invalid search grid`);
  const out: Record<string, readonly unknown[]> = {};
  for (const [key, values] of Object.entries((grid ?? {}) as Record<string, unknown[]>)) {
    out[key] = values.map((v) => (schema.shape[key] as z.ZodType).parse(v));
  }
  return out;
}
