import { initCompute, tf } from '@oodkit/compute';
import { Rng, type FinalLayer } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { nnguideBankSize, nnguideDefinition, NnguidePostprocessor } from '../src/postprocessors/nnguide.js';
import { clusteredSplit, gaussianRows, logitsRow, logSumExpRow, randomLayer } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/** Independent float64 loop: mean of the K largest ⟨ẑ, ẑ_t·lse(ℓ_t)⟩ over the whole bank, times lse(ℓ). */
function naiveNnguide(fl: FinalLayer, train: Float32Array, queries: Float32Array, d: number, k: number): number[] {
  const unit = (src: Float32Array, i: number) => {
    const z = Array.from(src.subarray(i * d, (i + 1) * d));
    const r = Math.hypot(...z);
    return z.map((v) => v / r);
  };
  const guides = Array.from({ length: train.length / d }, (_, i) => {
    const e = logSumExpRow(logitsRow(fl, train, i * d));
    return unit(train, i).map((v) => v * e);
  });
  return Array.from({ length: queries.length / d }, (_, i) => {
    const q = unit(queries, i);
    const ips = guides.map((g) => g.reduce((a, v, j) => a + v * q[j], 0)).sort((a, b) => b - a);
    const mean = ips.slice(0, k).reduce((a, b) => a + b, 0) / k;
    return mean * logSumExpRow(logitsRow(fl, queries, i * d));
  });
}

describe('nnguide', () => {
  const rng = Rng.fromSeed(41);
  const d = 6;
  const fl = randomLayer(rng, 3, d);
  const train = clusteredSplit(rng.derive('t'), 'train', 150, 3, d, true);
  const queries = gaussianRows(rng.derive('q'), 8, d, 0.8, 1.2);

  it('with alpha = 1 (whole train set as bank) matches a brute-force loop for several K', async () => {
    const pp = new NnguidePostprocessor(nnguideDefinition.args, nnguideDefinition.args.parse({ K: 1, alpha: 1 }), { rng: Rng.fromSeed(1) });
    await pp.setup({ finalLayer: fl }, { train });
    expect(pp.bankSize).toBe(150);
    const q = tf.tensor2d(queries, [8, d]);
    for (const K of [1, 10, 150]) {
      await pp.setHyperparameters({ K });
      const r = await pp.score({ features: q });
      const want = naiveNnguide(fl, train.features, queries, d, K);
      r.conf.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
    }
    q.dispose();
    pp.dispose();
  });

  it("bank size follows OpenOOD's loop: whole batches until their count exceeds ⌊n·α⌋, capped at n", () => {
    expect(nnguideBankSize(50000, 0.01, 200)).toBe(600); // ⌊500/200⌋ + 1 = 3 batches
    expect(nnguideBankSize(10000, 0.01, 200)).toBe(200); // 100 → one batch
    expect(nnguideBankSize(50000, 0.01, 128)).toBe(512); // 3 full batches are 384 ≤ 500 → 4
    expect(nnguideBankSize(50000, 0.008, 200)).toBe(600); // 400 is not > 400: a third batch
    expect(nnguideBankSize(50000, 0.01, 1)).toBe(501);
    expect(nnguideBankSize(150, 1, 200)).toBe(150);
  });

  it('default bank = the first whole batches of the train split in dataset order', async () => {
    const pp = new NnguidePostprocessor(nnguideDefinition.args, nnguideDefinition.args.parse({ K: 5, alpha: 0.1, bank_batch_size: 4 }), {
      rng: Rng.fromSeed(1),
    });
    await pp.setup({ finalLayer: fl }, { train });
    expect(pp.bankSize).toBe(16); // ⌊15/4⌋ + 1 = 4 batches of 4
    const q = tf.tensor2d(queries, [8, d]);
    const r = await pp.score({ features: q });
    const want = naiveNnguide(fl, train.features.subarray(0, 16 * d), queries, d, 5);
    r.conf.forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
    // the next batch is not in the bank: using the first 20 rows gives other scores
    const wider = naiveNnguide(fl, train.features.subarray(0, 20 * d), queries, d, 5);
    expect(wider.some((v, i) => Math.abs(v - r.conf[i]) > 1e-3)).toBe(true);
    q.dispose();
    pp.dispose();
  });

  it('bank: random draws whole batches of a seeded shuffle, reproducibly, re-drawn when alpha changes', async () => {
    const make = async (seed: number, bank: 'ordered' | 'random') => {
      const args = nnguideDefinition.args.parse({ K: 5, alpha: 0.1, bank, bank_batch_size: 1 });
      const pp = new NnguidePostprocessor(nnguideDefinition.args, args, { rng: Rng.fromSeed(seed) });
      await pp.setup({ finalLayer: fl }, { train });
      return pp;
    };
    const a = await make(3, 'random');
    const b = await make(3, 'random');
    const ordered = await make(3, 'ordered');
    const q = tf.tensor2d(queries, [8, d]);
    expect(a.bankSize).toBe(16);
    const ra = await a.score({ features: q });
    expect(Array.from((await b.score({ features: q })).conf)).toEqual(Array.from(ra.conf));
    expect(Array.from((await ordered.score({ features: q })).conf)).not.toEqual(Array.from(ra.conf));
    await a.setHyperparameters({ alpha: 0.5 });
    expect(a.bankSize).toBe(76);
    await a.setHyperparameters({ alpha: 0.1 });
    expect(Array.from((await a.score({ features: q })).conf)).toEqual(Array.from(ra.conf));
    await a.setHyperparameters({ bank_batch_size: 200 });
    expect(a.bankSize).toBe(150);
    q.dispose();
    for (const pp of [a, b, ordered]) pp.dispose();
    await expect(a.setHyperparameters({ alpha: 0 })).rejects.toThrow(/alpha/);
    await expect(a.setHyperparameters({ bank: 'first' })).rejects.toThrow(/bank/);
  });
});
