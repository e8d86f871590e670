import { z } from 'zod';
import {
  componentRefSchema,
  schemaSection,
  zodIssuesToConfigIssues,
  type ComponentRegistry,
  type ConfigIssue,
  type ConfigSection,
} from '@oodkit/core';
import { configuredNetworkLayers, layeredKeys, validateGrid, validateLayered, type AggregatorName } from '@oodkit/postprocessors';

const componentRef = componentRefSchema('trainer');

const postprocessorRef = componentRefSchema('postprocessor', {
  aps: z.boolean().optional().describe('override bench.aps for this method'),
  grid: z
    .record(z.string(), z.array(z.unknown()))
    .optional()
    .describe("values APS tries per argument, replacing the built-in lists of those arguments (OpenOOD's postprocessor_sweep)"),
  ...layeredKeys,
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
  /** The configured grid (replaces the built-in lists of the arguments it names); undefined = the built-in grid. */
  readonly grid?: Readonly<Record<string, readonly unknown[]>>;
  /** Feature layers the method runs on (each fitted on its own, scores fused by `aggregator`); undefined = z only. */
  readonly layers?: readonly string[];
  readonly aggregator?: AggregatorName;
  /** Unique label in tables: the name (`name@layer3+layer4` with layers), `#k` appended when it repeats. */
  readonly label: string;
}

export function benchPostprocessors(section: BenchSection): BenchPostprocessor[] {
  const seen = new Map<string, number>();
  return section.postprocessors.map((ref) => {
    const entry = typeof ref === 'string' ? { name: ref } : ref;
    const layers = 'layers' in entry ? entry.layers : undefined;
    const aggregator = 'aggregator' in entry ? entry.aggregator : undefined;
    const base = layers ? `${entry.name}@${layers.join('+')}` : entry.name;
    const k = (seen.get(base) ?? 0) + 1;
    seen.set(base, k);
    return {
      name: entry.name,
      args: entry.args ?? {},
      aps: ('aps' in entry ? entry.aps : undefined) ?? section.aps,
      ...('grid' in entry && entry.grid ? { grid: entry.grid } : {}),
      ...(layers ? { layers } : {}),
      ...(aggregator ? { aggregator } : {}),
      label: k === 1 ? base : `${base}#${k}`,
    };
  });
}

/** One trained model of the matrix. */
export interface BenchCell {
  readonly trainer: { readonly name: string; readonly args: Record<string, unknown> };
  readonly variant: 'baseline' | 'sio';
  readonly seed: number;
  /** `<trainer>/<variant>/s<seed>`. */
  readonly name: string;
}

/** What a bench run does, in its order: every trained model, and every (model, postprocessor) evaluation. */
export interface BenchPlan {
  readonly trainings: readonly BenchCell[];
  readonly evaluations: readonly { readonly cell: BenchCell; readonly postprocessor: BenchPostprocessor }[];
}

/** The run plan of a `bench:` section: trainers × variants × seeds, each evaluated with every postprocessor. */
export function benchPlan(section: BenchSection): BenchPlan {
  const postprocessors = benchPostprocessors(section);
  const trainings: BenchCell[] = [];
  for (const trainer of benchTrainers(section)) {
    for (const variant of section.variants) {
      for (const seed of section.seeds) trainings.push({ trainer, variant, seed, name: `${trainer.name}/${variant}/s${seed}` });
    }
  }
  return { trainings, evaluations: trainings.flatMap((cell) => postprocessors.map((postprocessor) => ({ cell, postprocessor }))) };
}

export function benchTrainers(section: BenchSection): { name: string; args: Record<string, unknown> }[] {
  return section.trainers.map((ref) => (typeof ref === 'string' ? { name: ref, args: {} } : { name: ref.name, args: ref.args ?? {} }));
}

/**
 * Schema problems plus every trainer and postprocessor checked against its registry — the names are
 * checked even when other keys of the section are wrong, so one pass reports everything.
 */
export function validateBenchSection(
  value: unknown,
  registry: ComponentRegistry,
  config: Readonly<Record<string, unknown>> = {},
): ConfigIssue[] {
  const networkLayers = configuredNetworkLayers(registry, config.network);
  const parsed = benchSectionSchema.safeParse(value);
  const issues: ConfigIssue[] = parsed.success ? [] : zodIssuesToConfigIssues(parsed.error, 'bench', benchSectionSchema);
  const raw = (value ?? {}) as { trainers?: unknown; postprocessors?: unknown };
  const trainers = parsed.success ? parsed.data.trainers : z.array(componentRef).safeParse(raw.trainers).data;
  const postprocessors = parsed.success ? parsed.data.postprocessors : z.array(postprocessorRef).safeParse(raw.postprocessors).data;
  const aps = parsed.success ? parsed.data.aps : typeof (raw as { aps?: unknown }).aps === 'boolean' ? (raw as { aps: boolean }).aps : true;
  const section = { trainers: trainers ?? [], postprocessors: postprocessors ?? [], aps } as unknown as BenchSection;
  benchTrainers(section).forEach((t, i) => issues.push(...registry.validate('trainer', t, `bench.trainers.${i}`)));
  benchPostprocessors(section).forEach((p, i) => {
    const path = `bench.postprocessors.${i}`;
    issues.push(...registry.validate('postprocessor', { name: p.name, args: p.args }, path));
    issues.push(...validateLayered(registry, p, path, networkLayers));
    if (p.grid === undefined || !registry.has('postprocessor', p.name)) return;
    issues.push(...validateGrid(p.grid, registry.get('postprocessor', p.name).args, p.name, `${path}.grid`));
    if (!p.aps)
      issues.push({ path: `${path}.grid`, message: `a grid is searched only with APS, which is off for ${p.name} (set aps: true)` });
  });
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
  validate: (value, ctx) => validateBenchSection(value, ctx.registry, ctx.config),
};
