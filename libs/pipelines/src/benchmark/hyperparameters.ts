import type { CellRecord } from './summary.js';

/** The hyperparameters one (trainer, variant, postprocessor) was scored with, seed by seed. */
export interface ChosenHyperparameters {
  readonly trainer: string;
  readonly variant: string;
  readonly postprocessor: string;
  /** APS searched them (else they are the configured values). */
  readonly searched: boolean;
  /** Searched values (APS's choice) or, without a search, every configured value; ascending seed. */
  readonly perSeed: readonly { readonly seed: number; readonly values: Readonly<Record<string, unknown>> }[];
  /** One line: the values when every seed agrees, "varies" when APS chose differently per seed. */
  readonly display: string;
}

/** `K=50, T=1` in the method's own key order; `–` when it has none. */
export function formatHyperparameters(values: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(values);
  if (entries.length === 0) return '–';
  return entries.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
}

function valuesOf(cell: CellRecord): Record<string, unknown> {
  return cell.evaluation.aps ? cell.evaluation.aps.best : cell.evaluation.hyperparameters;
}

/** Per (trainer, variant, postprocessor), in the order the cells were evaluated. */
export function chosenHyperparameters(cells: readonly CellRecord[]): ChosenHyperparameters[] {
  const groups = new Map<string, CellRecord[]>();
  for (const cell of cells) {
    const key = `${cell.trainer}\u0000${cell.variant}\u0000${cell.postprocessor}`;
    groups.set(key, [...(groups.get(key) ?? []), cell]);
  }
  return [...groups.values()].map((group) => {
    const sorted = [...group].sort((a, b) => a.seed - b.seed);
    const perSeed = sorted.map((c) => ({ seed: c.seed, values: valuesOf(c) }));
    const searched = sorted.some((c) => c.evaluation.aps !== null);
    const shown = new Set(perSeed.map((p) => formatHyperparameters(p.values)));
    const single = [...shown][0]!;
    const display = shown.size > 1 ? 'varies' : searched || single === '–' ? single : `${single} (fixed)`;
    const first = sorted[0]!;
    return { trainer: first.trainer, variant: first.variant, postprocessor: first.postprocessor, searched, perSeed, display };
  });
}

/** The console/CSV cell for one method: `baseline → SIO` values, or one value when both agree. */
export function hyperparameterPair(
  all: readonly ChosenHyperparameters[],
  trainer: string,
  postprocessor: string,
  sioVariant = 'sio',
): { baseline?: string; sio?: string; both: string } {
  const find = (variant: string) =>
    all.find((h) => h.trainer === trainer && h.postprocessor === postprocessor && h.variant === variant)?.display;
  const baseline = find('baseline');
  const sio = find(sioVariant);
  const both = baseline !== undefined && sio !== undefined && baseline !== sio ? `${baseline} → ${sio}` : (baseline ?? sio ?? '–');
  return { ...(baseline !== undefined ? { baseline } : {}), ...(sio !== undefined ? { sio } : {}), both };
}
