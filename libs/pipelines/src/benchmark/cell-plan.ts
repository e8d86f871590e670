import { ConfigError, UsageError } from '@oodkit/core';
import { benchPlan, type BenchCell, type BenchSection } from './bench-section.js';

/** The stages of a benchmark, in the order a scheduler runs them (each depends on the one before). */
export const CELL_STAGES = ['generator', 'train', 'features', 'eval', 'quality', 'summary'] as const;
export type CellStage = (typeof CELL_STAGES)[number];

/**
 * One unit of work of the matrix, runnable alone in a fresh process (`oodkit bench --cell <id>`):
 * a generator, a training run, its feature extraction, its evaluation group (every postprocessor of
 * its trainer on that model), the generator-quality measurement, or the summary/report. Ids:
 * `generator` (`generator/<variant>` when the variants train on several synthetic sets),
 * `train/<trainer>/<variant>/s<seed>`, `features/…`, `eval/…`, `quality`, `summary`.
 */
export interface PlannedCell {
  readonly id: string;
  readonly stage: CellStage;
  /** Cells whose products this one reads; the summary reads all and runs whatever they did. */
  readonly deps: readonly string[];
  /** The trained model of train/features/eval cells. */
  readonly model?: BenchCell;
  /** A generator cell's SIO variants (they train on its samples). */
  readonly variants?: readonly string[];
}

export interface CellPlan {
  /** Every cell in an order that respects the dependencies, model by model (how one process runs them). */
  readonly cells: readonly PlannedCell[];
  /** The cells of each stage, in plan order (one job array per non-empty stage). */
  readonly byStage: Readonly<Record<CellStage, readonly PlannedCell[]>>;
  readonly byId: ReadonlyMap<string, PlannedCell>;
}

export interface CellPlanOptions {
  /**
   * The synthetic sets generators make, each as the SIO variants that train on it (variants whose
   * sio.synthetic is .npy files are in none; variants that only change real_ratio share a set).
   */
  readonly generatorSets: readonly (readonly string[])[];
  /** bench.generator_quality: a `quality` cell after the generators and the judge's training. */
  readonly quality?: { readonly judge: string };
}

/**
 * The matrix of a `bench:` section as cells with dependencies. Pure and cheap (no data is read):
 * a launcher plans, submits and returns; every cell then finds its inputs in the product store.
 */
export function planBenchCells(bench: BenchSection, options: CellPlanOptions): CellPlan {
  const { trainings } = benchPlan(bench);
  const seen = new Set<string>();
  for (const model of trainings) {
    if (seen.has(model.name))
      throw new ConfigError([
        {
          path: 'bench.trainers',
          message: `trainer '${model.trainer.name}' is listed twice; each trainer may appear once (its tables are named by it)`,
        },
      ]);
    seen.add(model.name);
  }
  const variantsInPlan = new Set(trainings.map((t) => t.variant));
  const sets = options.generatorSets.map((variants) => variants.filter((v) => variantsInPlan.has(v))).filter((v) => v.length > 0);
  const generatorOf = new Map<string, string>();
  for (const variants of sets) {
    const id = sets.length === 1 ? 'generator' : `generator/${variants[0]}`;
    for (const variant of variants) generatorOf.set(variant, id);
  }
  const byStage: Record<CellStage, PlannedCell[]> = { generator: [], train: [], features: [], eval: [], quality: [], summary: [] };
  const cells: PlannedCell[] = [];
  const add = (cell: PlannedCell) => {
    cells.push(cell);
    byStage[cell.stage].push(cell);
  };
  for (const variants of sets) add({ id: generatorOf.get(variants[0]!)!, stage: 'generator', deps: [], variants });
  for (const model of trainings) {
    const train = `train/${model.name}`;
    const features = `features/${model.name}`;
    const generator = generatorOf.get(model.variant);
    add({ id: train, stage: 'train', deps: generator ? [generator] : [], model });
    add({ id: features, stage: 'features', deps: [train], model });
    add({ id: `eval/${model.name}`, stage: 'eval', deps: [features], model });
  }
  if (options.quality && sets.length > 0) {
    // The judge's training is a dependency when the plan has it; otherwise the quality cell trains it.
    const judge = `train/${options.quality.judge}`;
    add({ id: 'quality', stage: 'quality', deps: [...byStage.generator.map((c) => c.id), ...(byId(cells, judge) ? [judge] : [])] });
  }
  add({ id: 'summary', stage: 'summary', deps: cells.map((c) => c.id) });
  return { cells, byStage, byId: new Map(cells.map((c) => [c.id, c])) };
}

const byId = (cells: readonly PlannedCell[], id: string) => cells.some((c) => c.id === id);

/** The generator cell a variant's trainings read, if any. */
export function generatorCellOf(plan: CellPlan, variant: string): string | undefined {
  return plan.byStage.generator.find((c) => c.variants?.includes(variant))?.id;
}

/**
 * A cell by its id, or by `<stage>@<index>` (the form a job array's task uses: the index-th cell of
 * that stage). Unknown ids are usage errors naming what exists.
 */
export function findCell(plan: CellPlan, ref: string): PlannedCell {
  const at = /^([a-z]+)@(\d+)$/.exec(ref);
  if (at) {
    const stage = at[1] as CellStage;
    if (!CELL_STAGES.includes(stage)) throw new UsageError(`--cell ${ref}: unknown stage '${stage}' (stages: ${CELL_STAGES.join(', ')})`);
    const cell = plan.byStage[stage][Number(at[2])];
    if (!cell) throw new UsageError(`--cell ${ref}: stage ${stage} has ${plan.byStage[stage].length} cell(s) (indices from 0)`);
    return cell;
  }
  const cell = plan.byId.get(ref);
  if (!cell) {
    const some = plan.cells
      .slice(0, 4)
      .map((c) => c.id)
      .join(', ');
    throw new UsageError(`--cell ${ref}: no such cell in this plan (e.g. ${some}; or <stage>@<index>)`);
  }
  return cell;
}

/** A cell id as one file name (`train/base/sio/s0` → `train~base~sio~s0`). */
export function cellFileName(id: string): string {
  return id.replace(/\//g, '~');
}
