import type { ComponentRegistry, ConfigIssue } from '@oodkit/core';
import { benchmarkSchema, validateBenchmark } from './schema.js';

/**
 * The `benchmark` top-level config key, shaped like core's ConfigSection (key, description,
 * validate, complete, schema) so it can be contributed through the config-sections mechanism.
 * A string value (shipped name or YAML path) is accepted as is and resolved by loadBenchmark.
 */
export const benchmarkConfigSection = {
  key: 'benchmark',
  description: 'ID/OOD datasets and preprocessing: a shipped name (mnist, cifar10, ...), a YAML path, or an inline mapping',
  schema: benchmarkSchema,
  validate(value: unknown, ctx: { registry: ComponentRegistry }): ConfigIssue[] {
    if (value === undefined || value === null || typeof value === 'string') return [];
    return validateBenchmark(value, ctx.registry);
  },
  complete(value: unknown): unknown {
    if (value === undefined || value === null || typeof value === 'string') return value ?? undefined;
    return benchmarkSchema.parse(value);
  },
};
