import { ConfigError, UsageError } from '@oodkit/core';
import { benchPlan, type BenchCell, type BenchSection } from './bench-section.js';

/** The stages of a benchmark, in the order a scheduler runs them (each depends on the one before). */
export const CELL_STAGES = ['generator', 'train', 'features', 'eval', 'summary'] as const;
export type CellStage = (typeof CELL_STAGES)[number];

/**
 * One unit of work of the matrix, runnable alone in a fresh process (`oodkit bench --cell <id>`):
 * the generator, a training run, its feature extraction, its evaluation group (every postprocessor on
 * that model), or the summary/report. Ids: `generator`, `train/<trainer>/<variant>/s<seed>`,
 * `features/…`, `eval/…`, `summary`.
 */
export interface PlannedCell {
  readonly id: string;
  readonly stage: CellStage;
  /** Cells whose products this one reads; the summary reads all and runs whatever they did. */
  readonly deps: readonly string[];
  /** The trained model of train/features/eval cells. */
  readonly model?: BenchCell;
}

export interface CellPlan {
  /** Every cell in an order that respects the dependencies, model by model (how one process runs them). */
  readonly cells: readonly PlannedCell[];
  /** The cells of each stage, in plan order (one job array per non-empty stage). */
  readonly byStage: Readonly<Record<CellStage, readonly PlannedCell[]>>;
  readonly byId: ReadonlyMap<string, PlannedCell>;
}

export interface CellPlanOptions {
  /** The +SIO variant trains on a generator's output (sio.synthetic is a generator, not .npy files). */
  readonly generator: boolean;
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
  const useGenerator = options.generator && bench.variants.includes('sio');
  const byStage: Record<CellStage, PlannedCell[]> = { generator: [], train: [], features: [], eval: [], summary: [] };
  const cells: PlannedCell[] = [];
  const add = (cell: PlannedCell) => {
    cells.push(cell);
    byStage[cell.stage].push(cell);
  };
  if (useGenerator) add({ id: 'generator', stage: 'generator', deps: [] });
  for (const model of trainings) {
    const train = `train/${model.name}`;
    const features = `features/${model.name}`;
    add({ id: train, stage: 'train', deps: useGenerator && model.variant === 'sio' ? ['generator'] : [], model });
    add({ id: features, stage: 'features', deps: [train], model });
    add({ id: `eval/${model.name}`, stage: 'eval', deps: [features], model });
  }
  add({ id: 'summary', stage: 'summary', deps: cells.map((c) => c.id) });
  return { cells, byStage, byId: new Map(cells.map((c) => [c.id, c])) };
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
