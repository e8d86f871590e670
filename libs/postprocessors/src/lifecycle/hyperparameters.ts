import { ConfigError, UsageError, zodIssuesToConfigIssues } from '@oodkit/core';
import type { z } from 'zod';

/**
 * Merge `values` into `current` and validate against the method's args schema, so a hyperparameter
 * search can never set a key or a value the config could not. Errors name `postprocessor.args.<key>`.
 */
export function mergeHyperparameters<S extends z.ZodObject>(
  schema: S,
  current: z.infer<S>,
  values: Record<string, unknown>,
  method: string,
): z.infer<S> {
  const parsed = schema.safeParse({ ...current, ...values });
  if (!parsed.success) {
    throw new ConfigError(zodIssuesToConfigIssues(parsed.error, 'postprocessor.args', schema), `${method}: invalid hyperparameters`);
  }
  return parsed.data;
}

/** A method used before `setup` (or without the split it needs). */
export function requireSetup<T>(value: T | undefined, method: string, what = 'setup(model, data)'): T {
  if (value === undefined) throw new UsageError(`${method}: call ${what} before scoring`);
  return value;
}
