import { z } from 'zod';
import { schemaSection, zodIssuesToConfigIssues, type ConfigIssue, type ConfigSection } from '@oodkit/core';
import { componentSectionSchema } from '../datasets/section.js';

/** `preprocessor: {train: [...], test: [...]}`: the run's chains, replacing the benchmark's when given. */
export const preprocessorChainsSchema = z.strictObject({
  train: z
    .array(componentSectionSchema)
    .optional()
    .describe('train-time chain, e.g. [{name: random_crop, args: {size: 32, padding: 4}}, {name: normalize}]'),
  test: z.array(componentSectionSchema).optional().describe('test-time chain'),
});

const base = schemaSection(
  'preprocessor',
  preprocessorChainsSchema.optional(),
  'train and test preprocessing chains (default: the benchmark’s)',
);

/** Each chain entry is checked against the preprocessor registry too, so typos surface before any work. */
export const preprocessorConfigSection: ConfigSection = {
  ...base,
  validate(value, ctx) {
    const parsed = preprocessorChainsSchema.optional().safeParse(value);
    if (!parsed.success) return zodIssuesToConfigIssues(parsed.error, 'preprocessor', preprocessorChainsSchema);
    const issues: ConfigIssue[] = [];
    for (const role of ['train', 'test'] as const) {
      parsed.data?.[role]?.forEach((entry, i) => issues.push(...ctx.registry.validate('preprocessor', entry, `preprocessor.${role}.${i}`)));
    }
    return issues;
  },
};
