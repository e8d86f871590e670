import { z } from 'zod';
import {
  componentRefSchema,
  schemaSection,
  zodIssuesToConfigIssues,
  type ComponentRegistry,
  type ConfigIssue,
  type ConfigSection,
} from '@oodkit/core';

const componentRef = componentRefSchema('trainer');

const postprocessorRef = componentRefSchema('postprocessor', {
  aps: z.boolean().optional().describe('override bench.aps for this method'),
});

/** Per-role caps on the number of samples (seeded stratified subsets), for quick runs. */
const limitsSchema = z.strictObject({
  train: z.int().positive().optional(),
  val: z.int().positive().optional(),
  test: z.int().positive().optional(),
  ood: z.int().positive().optional().describe('cap for every OOD set, the OOD validation set included'),
});

/**
 * The `bench:` section: the matrix trainers × {baseline, +SIO} × seeds, and the postprocessors every
 * trained model is evaluated with.
 */
export const benchSectionSchema = z
  .strictObject({
    trainers: z.array(componentRef).min(1).default(['base']),
    variants: z
      .array(z.enum(['baseline', 'sio']))
      .min(1)
      .default(['baseline', 'sio']),
    seeds: z.array(z.int().nonnegative()).min(1).default([0, 1]),
    postprocessors: z
      .array(postprocessorRef)
      .min(1)
      .default(['msp', 'temp_scaling', 'odin', 'ebo', 'mls', 'klm', 'gen', 'mds', 'react', 'vim', 'knn', 'ash']),
    aps: z.boolean().default(true).describe('hyperparameter search (ID val vs OOD val) for methods that have a grid'),
    checkpoint: z.enum(['best', 'last']).default('best').describe('which checkpoint of each training run is evaluated'),
    limits: limitsSchema.optional(),
    report: z
      .strictObject({
        roc_points: z.int().min(10).default(200),
        histogram_bins: z.int().min(5).default(40),
        sample_grid: z.int().min(1).max(30).default(10).describe('the sample grids show n × n images'),
      })
      .prefault({}),
  })
  .prefault({});
export type BenchSection = z.infer<typeof benchSectionSchema>;
export type BenchLimits = z.infer<typeof limitsSchema>;

export interface BenchPostprocessor {
  readonly name: string;
  readonly args: Record<string, unknown>;
  readonly aps: boolean;
  /** Unique label in tables (the name, or name#k when a method appears twice with other args). */
  readonly label: string;
}

export function benchPostprocessors(section: BenchSection): BenchPostprocessor[] {
  const seen = new Map<string, number>();
  return section.postprocessors.map((ref) => {
    const entry = typeof ref === 'string' ? { name: ref } : ref;
    const k = (seen.get(entry.name) ?? 0) + 1;
    seen.set(entry.name, k);
    return {
      name: entry.name,
      args: entry.args ?? {},
      aps: ('aps' in entry ? entry.aps : undefined) ?? section.aps,
      label: k === 1 ? entry.name : `${entry.name}#${k}`,
    };
  });
}

export function benchTrainers(section: BenchSection): { name: string; args: Record<string, unknown> }[] {
  return section.trainers.map((ref) => (typeof ref === 'string' ? { name: ref, args: {} } : { name: ref.name, args: ref.args ?? {} }));
}

/**
 * Schema problems plus every trainer and postprocessor checked against its registry — the names are
 * checked even when other keys of the section are wrong, so one pass reports everything.
 */
export function validateBenchSection(value: unknown, registry: ComponentRegistry): ConfigIssue[] {
  const parsed = benchSectionSchema.safeParse(value);
  const issues: ConfigIssue[] = parsed.success ? [] : zodIssuesToConfigIssues(parsed.error, 'bench', benchSectionSchema);
  const raw = (value ?? {}) as { trainers?: unknown; postprocessors?: unknown };
  const trainers = parsed.success ? parsed.data.trainers : z.array(componentRef).safeParse(raw.trainers).data;
  const postprocessors = parsed.success ? parsed.data.postprocessors : z.array(postprocessorRef).safeParse(raw.postprocessors).data;
  const section = { trainers: trainers ?? [], postprocessors: postprocessors ?? [], aps: true } as unknown as BenchSection;
  benchTrainers(section).forEach((t, i) => issues.push(...registry.validate('trainer', t, `bench.trainers.${i}`)));
  benchPostprocessors(section).forEach((p, i) =>
    issues.push(...registry.validate('postprocessor', { name: p.name, args: p.args }, `bench.postprocessors.${i}`)),
  );
  return issues;
}

const plainBenchSection = schemaSection(
  'bench',
  benchSectionSchema,
  'benchmark matrix: trainers × {baseline, +SIO} × seeds, evaluated with every listed postprocessor',
);

/** The schema section, plus name checks of every trainer and postprocessor against the registries. */
export const benchConfigSection: ConfigSection = {
  ...plainBenchSection,
  validate: (value, ctx) => validateBenchSection(value, ctx.registry),
};
