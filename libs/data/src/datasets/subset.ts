import { z } from 'zod';
import { ConfigError, defineComponent, Rng } from '@oodkit/core';
import { datasetSectionSchema, buildDataset } from './section.js';
import { SubsetDataset } from './views.js';

export const subsetArgs = z.strictObject({
  of: datasetSectionSchema,
  /** Seed of the ordering (a fixed property of the split, independent of the run seed). */
  seed: z.int().default(0),
  /** Take positions [start, start + count) of the seeded ordering; splits with the same seed and disjoint windows are disjoint. */
  start: z.int().nonnegative().default(0),
  /** Number of samples; omitted = everything from `start` on. */
  count: z.int().positive().optional(),
  /** Order so that every window holds each class in proportion (±1). */
  stratified: z.boolean().default(false),
  /** false: keep source order (a plain slice). */
  shuffle: z.boolean().default(true),
  name: z.string().optional(),
});

/**
 * The seeded order of `labels`' indices. Stratified: each class is permuted, its j-th member (of
 * n_c) gets the key (j + ½)/n_c, and members are sorted by key (ties by class), so any window of
 * the order contains every class in proportion up to one sample.
 */
export function subsetOrder(labels: Int32Array, seed: number, stratified: boolean, shuffle = true): Int32Array {
  const n = labels.length;
  const rng = Rng.fromSeed(seed).derive('subset');
  if (!shuffle) return Int32Array.from({ length: n }, (_, i) => i);
  if (!stratified) return rng.permutation(n);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = byClass.get(labels[i]);
    if (list) list.push(i);
    else byClass.set(labels[i], [i]);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const keyed: { index: number; key: number; cls: number }[] = [];
  for (const cls of classes) {
    const members = byClass.get(cls)!;
    rng.shuffle(members);
    members.forEach((index, j) => keyed.push({ index, key: (j + 0.5) / members.length, cls }));
  }
  keyed.sort((a, b) => a.key - b.key || a.cls - b.cls);
  return Int32Array.from(keyed, (k) => k.index);
}

export const subsetDataset = defineComponent({
  kind: 'dataset',
  name: 'subset',
  description: 'A seeded (optionally stratified) window of another dataset; disjoint windows give disjoint splits',
  args: subsetArgs,
  create: async (args, ctx) => {
    const source = await buildDataset(args.of, ctx, 'dataset.args.of', 'of');
    const order = subsetOrder(source.labels, args.seed, args.stratified, args.shuffle);
    const end = args.count === undefined ? order.length : args.start + args.count;
    if (end > order.length || args.start >= order.length) {
      throw new ConfigError([
        { path: 'subset.args', message: `window [${args.start}, ${end}) does not fit in '${source.name}' of ${order.length} samples` },
      ]);
    }
    return new SubsetDataset(args.name ?? `${source.name}[${args.start}:${end}]`, source, order.slice(args.start, end));
  },
});
