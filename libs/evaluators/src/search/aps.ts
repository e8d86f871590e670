import { UsageError, type Logger, type Postprocessor } from '@oodkit/core';

export type HyperparameterGrid = Readonly<Record<string, readonly unknown[]>>;

/**
 * Every combination of the grid, the FIRST parameter varying fastest (OpenOOD's
 * `recursive_generator`: the last parameter is the outermost loop). Parameter order is the grid's key
 * order. An empty grid has one combination: no change.
 */
export function gridCombinations(grid: HyperparameterGrid): Record<string, unknown>[] {
  const keys = Object.keys(grid);
  for (const key of keys) {
    if (grid[key]!.length === 0) throw new UsageError(`hyperparameter grid: '${key}' has no values`);
  }
  let combos: Record<string, unknown>[] = [{}];
  for (const key of keys) {
    const next: Record<string, unknown>[] = [];
    // Later keys wrap earlier ones, so the earlier keys cycle fastest.
    for (const value of grid[key]!) for (const combo of combos) next.push({ ...combo, [key]: value });
    combos = next;
  }
  return combos;
}

export interface ApsTrial {
  readonly values: Record<string, unknown>;
  readonly auroc: number;
}

export interface ApsResult {
  readonly best: Record<string, unknown>;
  readonly bestAuroc: number;
  readonly trials: readonly ApsTrial[];
}

/**
 * OpenOOD's automatic parameter search: for each grid combination, set it on the postprocessor
 * (which re-derives its fitted state), score ID val vs OOD val and keep the highest AUROC; on a tie
 * the earlier combination wins. The best combination is set on the postprocessor before returning.
 */
export async function searchHyperparameters(
  postprocessor: Postprocessor,
  grid: HyperparameterGrid,
  valAuroc: (postprocessor: Postprocessor) => Promise<number>,
  logger?: Logger,
): Promise<ApsResult> {
  const combos = gridCombinations(grid);
  const trials: ApsTrial[] = [];
  let bestIndex = -1;
  let bestAuroc = -Infinity;
  for (const values of combos) {
    await postprocessor.setHyperparameters(values);
    const value = await valAuroc(postprocessor);
    trials.push({ values, auroc: value });
    logger?.info(`${postprocessor.name} APS ${JSON.stringify(values)}: val AUROC ${(100 * value).toFixed(2)}`);
    if (value > bestAuroc) {
      bestAuroc = value;
      bestIndex = trials.length - 1;
    }
  }
  if (bestIndex < 0) throw new UsageError(`${postprocessor.name}: every APS combination gave a NaN AUROC`);
  const best = combos[bestIndex]!;
  await postprocessor.setHyperparameters(best);
  return { best, bestAuroc, trials };
}
