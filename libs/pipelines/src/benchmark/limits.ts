import type { LoadedBenchmark } from '@oodkit/data';
import type { BenchLimits } from './bench-section.js';

type Section = Record<string, unknown>;

/** A seeded subset of `section` holding `count` samples (stratified by class for ID sets). */
function capped(section: unknown, count: number, length: number, stratified: boolean): unknown {
  if (count >= length) return section;
  // Seed 0, like the benchmark's own splits: the subset is a property of the profile, not of the run seed.
  return { name: 'subset', args: { of: section, count, seed: 0, stratified, shuffle: true } };
}

/**
 * The benchmark declaration with every split capped by `limits` (a quick profile). Lengths come from
 * the loaded benchmark so caps larger than a set leave it whole.
 */
export function limitBenchmark(raw: Section, loaded: LoadedBenchmark, limits: BenchLimits | undefined): Section {
  if (!limits) return raw;
  const id = raw.id as Section;
  const ood = raw.ood as Section;
  const capId = (split: 'train' | 'val' | 'test') => {
    const limit = limits[split];
    return limit === undefined ? id[split] : capped(id[split], limit, loaded.id[split].length, true);
  };
  const capOod = (entry: Section, length: number) =>
    limits.ood === undefined ? entry : { ...entry, dataset: capped(entry.dataset, limits.ood, length, false) };
  return {
    ...raw,
    id: { ...id, train: capId('train'), val: capId('val'), test: capId('test') },
    ood: {
      ...ood,
      val: capOod(ood.val as Section, loaded.ood.val.dataset.length),
      near: ((ood.near as Section[] | undefined) ?? []).map((e, i) => capOod(e, loaded.ood.near[i]!.dataset.length)),
      far: ((ood.far as Section[] | undefined) ?? []).map((e, i) => capOod(e, loaded.ood.far[i]!.dataset.length)),
    },
  };
}
