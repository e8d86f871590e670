import { z } from 'zod';
import type { ComponentRegistry, ConfigIssue } from '@oodkit/core';
import { componentSectionSchema, datasetSectionSchema, validateDatasetSection } from '../datasets/section.js';
import { zodIssuesToConfigIssues } from '@oodkit/core';

/** A named dataset in an OOD role: `{name: cifar100, dataset: {name: imglist, args: {...}}}`. */
export const roleDatasetSchema = z.strictObject({
  name: z.string().min(1),
  dataset: datasetSectionSchema,
});
export type RoleDataset = z.infer<typeof roleDatasetSchema>;

/**
 * A benchmark, as OpenOOD defines one: ID train/val/test, an OOD validation set (for
 * hyperparameter search; must be disjoint from every OOD test set), near- and far-OOD test sets,
 * optional covariate-shifted ID sets, plus the normalisation and preprocessing chains.
 */
export const benchmarkSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  num_classes: z.int().positive(),
  /** [H, W, C] of every image after decoding (before preprocessing). */
  image_shape: z.tuple([z.int().positive(), z.int().positive(), z.int().positive()]),
  /** Root for the relative paths of this benchmark's datasets (default: the config's data_dir, else cwd). */
  data_dir: z.string().optional(),
  normalization: z.strictObject({ mean: z.array(z.number()).min(1), std: z.array(z.number().positive()).min(1) }),
  /** Absent chains are `[normalize]` (with the normalization above), as OpenOOD always normalizes; `[]` means raw [0, 1] pixels. */
  preprocessor: z
    .strictObject({
      train: z.array(componentSectionSchema).default(() => [{ name: 'normalize' }]),
      test: z.array(componentSectionSchema).default(() => [{ name: 'normalize' }]),
    })
    .prefault({}),
  id: z.strictObject({ train: datasetSectionSchema, val: datasetSectionSchema, test: datasetSectionSchema }),
  ood: z.strictObject({
    val: roleDatasetSchema,
    near: z.array(roleDatasetSchema).default([]),
    far: z.array(roleDatasetSchema).default([]),
  }),
  csid: z.array(roleDatasetSchema).default([]),
});
export type BenchmarkConfig = z.infer<typeof benchmarkSchema>;

/**
 * Every problem of a `benchmark` value, without building anything: schema, each dataset section
 * (recursively through subset/concat) and preprocessor against the registry, unique set names.
 */
export function validateBenchmark(value: unknown, registry: ComponentRegistry, path = 'benchmark'): ConfigIssue[] {
  const parsed = benchmarkSchema.safeParse(value);
  if (!parsed.success) return zodIssuesToConfigIssues(parsed.error, path, benchmarkSchema);
  const b = parsed.data;
  const issues: ConfigIssue[] = [];
  for (const split of ['train', 'val', 'test'] as const)
    issues.push(...validateDatasetSection(registry, b.id[split], `${path}.id.${split}`));
  issues.push(...validateDatasetSection(registry, b.ood.val.dataset, `${path}.ood.val.dataset`));
  const names = new Map<string, string>();
  const roles: [string, RoleDataset[]][] = [
    ['ood.near', b.ood.near],
    ['ood.far', b.ood.far],
    ['csid', b.csid],
  ];
  names.set(b.ood.val.name, 'ood.val');
  for (const [role, list] of roles) {
    list.forEach((entry, i) => {
      const at = `${path}.${role}.${i}`;
      const previous = names.get(entry.name);
      if (previous)
        issues.push({ path: `${at}.name`, message: `'${entry.name}' is already used by ${previous}; set names must be unique` });
      names.set(entry.name, `${role}.${i}`);
      issues.push(...validateDatasetSection(registry, entry.dataset, `${at}.dataset`));
    });
  }
  for (const phase of ['train', 'test'] as const) {
    b.preprocessor[phase].forEach((section, i) =>
      issues.push(...registry.validate('preprocessor', section, `${path}.preprocessor.${phase}.${i}`)),
    );
  }
  const { mean, std } = b.normalization;
  if (mean.length !== std.length)
    issues.push({ path: `${path}.normalization`, message: `mean has ${mean.length} values but std has ${std.length}` });
  if (mean.length !== 1 && mean.length !== b.image_shape[2]) {
    issues.push({ path: `${path}.normalization.mean`, message: `has ${mean.length} values for ${b.image_shape[2]}-channel images` });
  }
  return issues;
}
