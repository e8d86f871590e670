import { z } from 'zod';
import {
  ConfigError,
  componentRefSchema,
  schemaSection,
  zodIssuesToConfigIssues,
  type ComponentRegistry,
  type ConfigIssue,
  type ConfigSection,
} from '@oodkit/core';
import { configuredNetworkLayers, layeredKeys, validateGrid, validateLayered, type AggregatorName } from '@oodkit/postprocessors';
import { resolveBenchmarkValueSync, validateBenchmark } from '@oodkit/data';
import { parseSioConfig, sioConfigSchema } from '@oodkit/sio';

const postprocessorRef = componentRefSchema('postprocessor', {
  aps: z.boolean().optional().describe('override bench.aps for this method'),
  grid: z
    .record(z.string(), z.array(z.unknown()))
    .optional()
    .describe("values APS tries per argument, replacing the built-in lists of those arguments (OpenOOD's postprocessor_sweep)"),
  ...layeredKeys,
});

const componentRef = componentRefSchema('trainer', {
  postprocessors: z
    .array(postprocessorRef)
    .min(1)
    .optional()
    .describe(
      "this trainer's methods, replacing bench.postprocessors for it (the SIO paper scores a training method with its own score: msp, ebo for vos, godin for godin)",
    ),
});

/** An SIO variant besides the default `sio`: a name and the keys it changes in the `sio:` section. */
const namedVariant = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - (it names result folders)')
    .refine((n) => n !== 'baseline' && n !== 'sio', "'baseline' and 'sio' are the built-in variants")
    .describe('label in tables and cell names'),
  // the sio: section's own keys (unknown keys are errors here); their values are checked by the sio
  // schema after the merge, so an override is never filled in with defaults
  sio: z
    .strictObject(Object.fromEntries(Object.keys(sioConfigSchema.shape).map((key) => [key, z.unknown().optional()])))
    .describe(
      "keys merged over the sio: section for this variant, e.g. {real_ratio: 0.5} or {synthetic: {name: cgan}} (a synthetic block naming another generator replaces the config's whole)",
    ),
});
const variantRef = z.union([z.enum(['baseline', 'sio']), namedVariant]);

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
      .array(variantRef)
      .min(1)
      .default(['baseline', 'sio'])
      .describe(
        "'baseline' (no SIO; the control every SIO variant is paired with), 'sio' (the sio: section), or {name, sio: {...}} ablations",
      ),
    benchmarks: z
      .array(z.union([z.string().min(1), z.record(z.string(), z.unknown())]))
      .min(1)
      .optional()
      .describe(
        'run the whole matrix on each of these benchmarks (names or inline benchmark: sections) instead of benchmark:; one results folder per benchmark and one combined table',
      ),
    generator_quality: z
      .boolean()
      .default(true)
      .describe(
        "score every SIO variant's synthetic set: per-class accuracy of an independently trained classifier on it, and the Fréchet distance between real-test and synthetic features of that classifier",
      ),
    judge: z
      .strictObject({
        args: z
          .record(z.string(), z.unknown())
          .default({})
          .describe("the base trainer's own arguments (see its trainer component), e.g. {lr: 0.03}"),
      })
      .optional()
      .describe(
        "the base trainer's args for the generator-quality judge when bench.trainers lists no base (with one, that entry is the judge), e.g. {args: {lr: 0.03}} to judge with the model another profile trains",
      ),
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

export function benchPostprocessors(section: Pick<BenchSection, 'postprocessors' | 'aps'>): BenchPostprocessor[] {
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

/** `baseline`, `sio`, or the name of an ablation variant. */
export type BenchVariantName = string;

export interface BenchVariant {
  readonly name: BenchVariantName;
  /** Whether this variant trains with SIO (every variant but `baseline`). */
  readonly sio: boolean;
  /** Keys merged over the config's `sio:` section (empty for `baseline` and `sio`). */
  readonly sioOverrides: Readonly<Record<string, unknown>>;
}

export function benchVariants(section: Pick<BenchSection, 'variants'>): BenchVariant[] {
  return section.variants.map((v) =>
    typeof v === 'string'
      ? { name: v, sio: v === 'sio', sioOverrides: {} }
      : { name: v.name, sio: true, sioOverrides: v.sio as Record<string, unknown> },
  );
}

/**
 * The `sio:` section of one variant: the config's, with the variant's keys merged over it. A
 * `synthetic:` block whose generator `name` differs from the config's replaces the block whole (the
 * other generator's args would not fit); otherwise nested mappings merge key by key.
 */
export function variantSioSection(sio: unknown, variant: BenchVariant): Record<string, unknown> | undefined {
  if (!variant.sio) return undefined;
  const base = (sio ?? {}) as Record<string, unknown>;
  const merge = (target: Record<string, unknown>, over: Readonly<Record<string, unknown>>): Record<string, unknown> => {
    const out = { ...target };
    for (const [key, value] of Object.entries(over)) {
      const existing = out[key];
      const replaces =
        key === 'synthetic' && isRecord(value) && isRecord(existing) && typeof value.name === 'string' && value.name !== existing.name;
      out[key] = isRecord(value) && isRecord(existing) && !replaces ? merge(existing, value) : value;
    }
    return out;
  };
  return merge(base, variant.sioOverrides);
}

const isRecord = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

export interface BenchTrainer {
  readonly name: string;
  readonly args: Record<string, unknown>;
  /** The methods this trainer's models are scored with (its own list, else bench.postprocessors). */
  readonly postprocessors: readonly BenchPostprocessor[];
}

/** One trained model of the matrix. */
export interface BenchCell {
  readonly trainer: { readonly name: string; readonly args: Record<string, unknown> };
  readonly variant: BenchVariantName;
  readonly seed: number;
  /** `<trainer>/<variant>/s<seed>`. */
  readonly name: string;
}

/** What a bench run does, in its order: every trained model, and every (model, postprocessor) evaluation. */
export interface BenchPlan {
  readonly trainings: readonly BenchCell[];
  readonly evaluations: readonly { readonly cell: BenchCell; readonly postprocessor: BenchPostprocessor }[];
}

/**
 * The model that judges the synthetic sets (bench.generator_quality), trained on real data only: the
 * base trainer at the first seed without SIO — as bench.trainers configures it when listed, else with
 * bench.judge's args. Its training hash is that of base/baseline/s<seed>, so it is usually cached,
 * also by another config that lists base with the same args.
 */
export function benchJudge(section: Pick<BenchSection, 'trainers' | 'postprocessors' | 'aps' | 'judge' | 'seeds'>): {
  trainer: { name: string; args: Record<string, unknown> };
  seed: number;
} {
  const base = benchTrainers(section).find((t) => t.name === 'base');
  return {
    trainer: base ? { name: base.name, args: base.args } : { name: 'base', args: section.judge?.args ?? {} },
    seed: Math.min(...section.seeds),
  };
}

/**
 * The run plan of a `bench:` section (one benchmark): trainers × variants × seeds, each model evaluated
 * with its trainer's postprocessors.
 */
export function benchPlan(section: BenchSection): BenchPlan {
  const trainings: BenchCell[] = [];
  const evaluations: { cell: BenchCell; postprocessor: BenchPostprocessor }[] = [];
  for (const trainer of benchTrainers(section)) {
    for (const variant of benchVariants(section)) {
      for (const seed of section.seeds) {
        const cell = {
          trainer: { name: trainer.name, args: trainer.args },
          variant: variant.name,
          seed,
          name: `${trainer.name}/${variant.name}/s${seed}`,
        };
        trainings.push(cell);
        for (const postprocessor of trainer.postprocessors) evaluations.push({ cell, postprocessor });
      }
    }
  }
  return { trainings, evaluations };
}

export function benchTrainers(section: Pick<BenchSection, 'trainers' | 'postprocessors' | 'aps'>): BenchTrainer[] {
  const shared = benchPostprocessors(section);
  return section.trainers.map((ref) => {
    if (typeof ref === 'string') return { name: ref, args: {}, postprocessors: shared };
    const own = ref.postprocessors ? benchPostprocessors({ postprocessors: ref.postprocessors, aps: section.aps }) : shared;
    return { name: ref.name, args: ref.args ?? {}, postprocessors: own };
  });
}

/**
 * Schema problems plus every trainer and postprocessor checked against its registry — the names are
 * checked even when other keys of the section are wrong, so one pass reports everything.
 */
export function validateBenchSection(
  value: unknown,
  registry: ComponentRegistry,
  config?: Readonly<Record<string, unknown>>,
): ConfigIssue[] {
  const networkLayers = configuredNetworkLayers(registry, config?.network);
  const parsed = benchSectionSchema.safeParse(value);
  const issues: ConfigIssue[] = parsed.success ? [] : zodIssuesToConfigIssues(parsed.error, 'bench', benchSectionSchema);
  const raw = (value ?? {}) as { trainers?: unknown; postprocessors?: unknown };
  const trainers = parsed.success ? parsed.data.trainers : z.array(componentRef).safeParse(raw.trainers).data;
  const postprocessors = parsed.success ? parsed.data.postprocessors : z.array(postprocessorRef).safeParse(raw.postprocessors).data;
  const aps = parsed.success ? parsed.data.aps : typeof (raw as { aps?: unknown }).aps === 'boolean' ? (raw as { aps: boolean }).aps : true;
  const section = { trainers: trainers ?? [], postprocessors: postprocessors ?? [], aps } as unknown as BenchSection;
  const checkPostprocessors = (list: readonly BenchPostprocessor[], at: string) =>
    list.forEach((p, i) => {
      const path = `${at}.${i}`;
      issues.push(...registry.validate('postprocessor', { name: p.name, args: p.args }, path));
      issues.push(...validateLayered(registry, p, path, networkLayers));
      if (p.grid === undefined || !registry.has('postprocessor', p.name)) return;
      issues.push(...validateGrid(p.grid, registry.get('postprocessor', p.name).args, p.name, `${path}.grid`));
      if (!p.aps)
        issues.push({ path: `${path}.grid`, message: `a grid is searched only with APS, which is off for ${p.name} (set aps: true)` });
    });
  benchTrainers(section).forEach((t, i) => {
    issues.push(...registry.validate('trainer', { name: t.name, args: t.args }, `bench.trainers.${i}`));
    const ref = section.trainers[i];
    if (typeof ref !== 'string' && ref?.postprocessors) checkPostprocessors(t.postprocessors, `bench.trainers.${i}.postprocessors`);
  });
  checkPostprocessors(benchPostprocessors(section), 'bench.postprocessors');
  if (parsed.success) {
    const names = benchVariants(parsed.data).map((v) => v.name);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) issues.push({ path: `bench.variants.${i}`, message: `variant '${name}' is listed twice` });
    });
    if (config) {
      benchVariants(parsed.data).forEach((variant, i) => {
        if (!variant.sio || Object.keys(variant.sioOverrides).length === 0) return;
        try {
          parseSioConfig(variantSioSection(config.sio, variant), `bench.variants.${i}.sio`);
        } catch (error) {
          if (error instanceof ConfigError) issues.push(...error.issues);
          else throw error;
        }
      });
    }
    (parsed.data.benchmarks ?? []).forEach((entry, i) => {
      const path = `bench.benchmarks.${i}`;
      try {
        issues.push(...validateBenchmark(resolveBenchmarkValueSync(entry), registry, path));
      } catch (error) {
        issues.push({ path, message: error instanceof Error ? error.message : String(error) });
      }
    });
    const trainerNames = benchTrainers(parsed.data).map((t) => t.name);
    trainerNames.forEach((name, i) => {
      if (trainerNames.indexOf(name) !== i)
        issues.push({ path: `bench.trainers.${i}`, message: `trainer '${name}' is listed twice (its cells would share one name)` });
    });
    if (parsed.data.judge) {
      if (trainerNames.includes('base'))
        issues.push({
          path: 'bench.judge',
          message: `bench.judge applies only when bench.trainers has no base entry; here base (with its args) is the judge, so remove bench.judge`,
        });
      else issues.push(...registry.validate('trainer', { name: 'base', args: parsed.data.judge.args }, 'bench.judge'));
    }
  }
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
