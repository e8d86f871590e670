import { z } from 'zod';
import { ConfigError, type ConfigIssue, type ConfigSection, type SectionContext } from '@oodkit/core';
import { benchmarkFile, resolveBenchmarkValueSync } from './load.js';
import { benchmarkSchema, validateBenchmark } from './schema.js';

/**
 * The `benchmark` top-level config key: a shipped name (mnist, cifar10, ...), a YAML path, or an
 * inline mapping. Names and paths are resolved and validated here too, so a broken benchmark
 * file is reported with the rest of the config; the value itself is kept as written.
 */
export const benchmarkConfigSection: ConfigSection = {
  key: 'benchmark',
  description: 'ID/OOD datasets and preprocessing: a shipped name (mnist, cifar10, ...), a YAML path, or an inline mapping',
  schema: z.union([z.string().min(1).describe('a shipped benchmark name (mnist, cifar10, ...) or a YAML path'), benchmarkSchema]),
  // `--benchmark.ood.far.0.dataset.args.count=100` on `benchmark: mnist`: the override edits the named
  // file's declaration, inlined (paths in it are relative to data_dir, not to the file).
  expand: (value) => {
    if (typeof value !== 'string') return undefined;
    const resolved = resolveBenchmarkValueSync(value);
    return resolved !== null && typeof resolved === 'object' && !Array.isArray(resolved)
      ? (resolved as Record<string, unknown>)
      : undefined;
  },
  validate(value: unknown, ctx: Pick<SectionContext, 'registry'>): ConfigIssue[] {
    if (value === undefined || value === null) return [];
    if (typeof value !== 'string') return validateBenchmark(value, ctx.registry);
    let resolved: unknown;
    try {
      resolved = resolveBenchmarkValueSync(value);
    } catch (error) {
      if (error instanceof ConfigError) return error.issues;
      throw error;
    }
    const file = benchmarkFile(value);
    return validateBenchmark(resolved, ctx.registry).map((issue) => ({ ...issue, message: `${issue.message} (in ${file})` }));
  },
  complete(value: unknown): unknown {
    if (value === undefined || value === null) return undefined;
    return typeof value === 'string' ? value : benchmarkSchema.parse(value);
  },
};
