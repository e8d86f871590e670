import type { z } from 'zod';
import { componentObjectSchema, type BuildContext, type ComponentRegistry, type ConfigIssue, type ImageDataset } from '@oodkit/core';

/** A nested `{name, args}` dataset section (for subset/concat and benchmark roles). */
export const datasetSectionSchema = componentObjectSchema('dataset');
export type DatasetSection = z.infer<typeof datasetSectionSchema>;
/** The same `{name, args}` shape for a preprocessor chain entry (overrides reach the preprocessor's args). */
export const componentSectionSchema = componentObjectSchema('preprocessor');

/** Builds a nested dataset with its own derived stream. */
export async function buildDataset(section: DatasetSection, ctx: BuildContext, path: string, stream: string): Promise<ImageDataset> {
  return ctx.registry.build<ImageDataset>(
    'dataset',
    section,
    { logger: ctx.logger, rng: ctx.rng.derive(stream), config: ctx.config },
    path,
  );
}

/** Validates a dataset section and every dataset nested in it (subset.of, concat.datasets), without building. */
export function validateDatasetSection(registry: ComponentRegistry, section: unknown, path: string): ConfigIssue[] {
  const parsed = datasetSectionSchema.safeParse(section);
  if (!parsed.success) {
    return [{ path, message: `expected a dataset section {name, args}, got ${JSON.stringify(section)?.slice(0, 80)}` }];
  }
  const issues = registry.validate('dataset', parsed.data, path);
  if (issues.length > 0) return issues;
  const args = parsed.data.args ?? {};
  if (parsed.data.name === 'subset' && args.of !== undefined) issues.push(...validateDatasetSection(registry, args.of, `${path}.args.of`));
  if (parsed.data.name === 'concat' && Array.isArray(args.datasets)) {
    args.datasets.forEach((d, i) => issues.push(...validateDatasetSection(registry, d, `${path}.args.datasets.${i}`)));
  }
  return issues;
}
