import { describe, expect, it } from 'vitest';
import { Rng } from '@oodkit/core';
import { TwoSourceSampler, syntheticPool } from '../src/sampling/two-source-sampler.js';

function stats(sampler: TwoSourceSampler, epoch = 0) {
  const batches = sampler.epoch(epoch);
  const real: number[] = [];
  const syn: number[] = [];
  for (const b of batches) {
    for (const i of b.indices) (i < sampler.realCount ? real : syn).push(i);
    expect(b.indices.filter((i) => i < sampler.realCount).length).toBe(b.realCount);
  }
  return { batches, real, syn };
}

describe('TwoSourceSampler (faithful SIO stream)', () => {
  it('R=50,000, bs 128, ratio 0.8 → 391 batches of 102 + 26 and 39,882 distinct real images per epoch', () => {
    const sampler = new TwoSourceSampler({ realCount: 50_000, synCount: 50_000, batchSize: 128, realRatio: 0.8, rng: Rng.fromSeed(1) });
    expect(sampler.realBs).toBe(102);
    expect(sampler.synBs).toBe(26);
    expect(sampler.stepsPerEpoch).toBe(391);
    const { batches, real, syn } = stats(sampler);
    expect(batches).toHaveLength(391);
    for (const b of batches) {
      expect(b.realCount).toBe(102);
      expect(b.synCount).toBe(26);
      expect(b.indices).toHaveLength(128);
    }
    expect(real).toHaveLength(39_882);
    expect(new Set(real).size).toBe(39_882);
    expect(new Set(syn).size).toBe(391 * 26);
    expect(Math.min(...syn)).toBeGreaterThanOrEqual(50_000);
    expect(Math.max(...syn)).toBeLessThan(100_000);
    // a different real subset the next epoch
    const next = new Set(stats(sampler, 1).real);
    expect(next.size).toBe(39_882);
    expect([...real].filter((i) => next.has(i)).length).toBeLessThan(39_882);
  });

  it('a small synthetic pool gives short then real-only batches, never wrapping around', () => {
    const sampler = new TwoSourceSampler({ realCount: 1000, synCount: 60, batchSize: 100, realRatio: 0.8, rng: Rng.fromSeed(2) });
    const { batches, syn } = stats(sampler);
    expect(batches.map((b) => b.synCount)).toEqual([20, 20, 20, 0, 0, 0, 0, 0, 0, 0]);
    expect(batches.map((b) => b.realCount)).toEqual(Array(10).fill(80));
    expect(new Set(syn).size).toBe(60);
    // 61 synthetic → the fourth batch is short (1), later ones have none
    const short = new TwoSourceSampler({ realCount: 1000, synCount: 61, batchSize: 100, realRatio: 0.8, rng: Rng.fromSeed(2) });
    expect(
      short
        .epoch(0)
        .map((b) => b.synCount)
        .slice(0, 5),
    ).toEqual([20, 20, 20, 1, 0]);
  });

  it('ratio 1.0 reproduces the ordinary loader: 390 × 128 + one of 80, each real index once', () => {
    const sampler = new TwoSourceSampler({ realCount: 50_000, synCount: 10_000, batchSize: 128, realRatio: 1, rng: Rng.fromSeed(3) });
    const { batches, real, syn } = stats(sampler);
    expect(batches).toHaveLength(391);
    expect(batches.slice(0, 390).every((b) => b.indices.length === 128)).toBe(true);
    expect(batches[390].indices.length).toBe(80);
    expect(syn).toHaveLength(0);
    expect(new Set(real).size).toBe(50_000);
  });

  it('the real tail is clamped (last batch short of real samples), not dropped', () => {
    const sampler = new TwoSourceSampler({ realCount: 250, synCount: 1000, batchSize: 100, realRatio: 0.8, rng: Rng.fromSeed(4) });
    const batches = sampler.epoch(0);
    expect(batches.map((b) => b.realCount)).toEqual([80, 80, 80]);
    const odd = new TwoSourceSampler({ realCount: 201, synCount: 1000, batchSize: 100, realRatio: 0.5, rng: Rng.fromSeed(4) });
    expect(odd.epoch(0).map((b) => [b.realCount, b.synCount])).toEqual([
      [50, 50],
      [50, 50],
      [50, 50],
    ]);
    const tail = new TwoSourceSampler({ realCount: 210, synCount: 1000, batchSize: 100, realRatio: 0.9, rng: Rng.fromSeed(4) });
    expect(tail.epoch(0).map((b) => [b.realCount, b.synCount])).toEqual([
      [90, 10],
      [90, 10],
      [30, 10],
    ]);
  });

  it('is reproducible from the seed, differs across seeds and epochs, and shuffles within the batch', () => {
    const make = (seed: number) =>
      new TwoSourceSampler({ realCount: 500, synCount: 300, batchSize: 64, realRatio: 0.75, rng: Rng.fromSeed(seed) });
    const a = make(7).epoch(3);
    const b = make(7).epoch(3);
    expect(a.map((x) => [...x.indices])).toEqual(b.map((x) => [...x.indices]));
    expect(make(8).epoch(3)[0].indices).not.toEqual(a[0].indices);
    expect(make(7).epoch(4)[0].indices).not.toEqual(a[0].indices);
    // real and synthetic are interleaved, not real block first
    const first = a[0].indices;
    const realPositions = [...first].map((i, p) => (i < 500 ? p : -1)).filter((p) => p >= 0);
    expect(realPositions[realPositions.length - 1]).toBeGreaterThan(a[0].realCount - 1);
  });

  it('never mixes up real and synthetic indices', () => {
    const sampler = new TwoSourceSampler({ realCount: 300, synCount: 200, batchSize: 32, realRatio: 0.8, rng: Rng.fromSeed(5) });
    for (const b of sampler.epoch(0)) {
      const real = [...b.indices].filter((i) => i < 300);
      const syn = [...b.indices].filter((i) => i >= 300);
      expect(real).toHaveLength(b.realCount);
      expect(syn).toHaveLength(b.synCount);
      expect(syn.every((i) => i < 500)).toBe(true);
    }
  });

  it('extraPercent keeps a fixed subset, independent of the run seed', () => {
    const pool = syntheticPool(1000, 400, 25);
    expect(pool).toHaveLength(100);
    expect(pool.every((i) => i >= 1000 && i < 1400)).toBe(true);
    expect(new Set(pool).size).toBe(100);
    const s1 = new TwoSourceSampler({
      realCount: 1000,
      synCount: 400,
      batchSize: 50,
      realRatio: 0.8,
      rng: Rng.fromSeed(11),
      extraPercent: 25,
    });
    const s2 = new TwoSourceSampler({
      realCount: 1000,
      synCount: 400,
      batchSize: 50,
      realRatio: 0.8,
      rng: Rng.fromSeed(99),
      extraPercent: 25,
    });
    expect([...s1.synPool]).toEqual([...s2.synPool]);
    expect([...s1.synPool]).toEqual([...pool]);
    const used = new Set(stats(s2).syn);
    expect([...used].every((i) => s1.synPool.includes(i))).toBe(true);
    expect(used.size).toBe(100);
    expect(syntheticPool(10, 5)).toEqual(Int32Array.from([10, 11, 12, 13, 14]));
  });

  it('full-real-coverage mode sees every real image each epoch', () => {
    const sampler = new TwoSourceSampler({
      realCount: 1000,
      synCount: 5000,
      batchSize: 128,
      realRatio: 0.8,
      rng: Rng.fromSeed(6),
      mode: 'full-real-coverage',
    });
    expect(sampler.stepsPerEpoch).toBe(Math.ceil(1000 / 102));
    const { real, batches } = stats(sampler);
    expect(new Set(real).size).toBe(1000);
    expect(batches.every((b) => b.synCount === 26)).toBe(true);
  });

  it("ratio 0 gives all-synthetic batches of the full size for ceil(R / bs) steps, as SIO's sampler allows", () => {
    const sampler = new TwoSourceSampler({ realCount: 250, synCount: 400, batchSize: 100, realRatio: 0, rng: Rng.fromSeed(12) });
    expect([sampler.realBs, sampler.synBs, sampler.stepsPerEpoch]).toEqual([0, 100, 3]);
    const { batches, real, syn } = stats(sampler);
    expect(real).toHaveLength(0);
    expect(batches.map((b) => [b.realCount, b.synCount])).toEqual([
      [0, 100],
      [0, 100],
      [0, 100],
    ]);
    expect(new Set(syn).size).toBe(300);
    // a pool that runs out leaves the last batch short, never empty
    const short = new TwoSourceSampler({ realCount: 250, synCount: 201, batchSize: 100, realRatio: 0, rng: Rng.fromSeed(12) });
    expect(short.epoch(0).map((b) => b.synCount)).toEqual([100, 100, 1]);
    // ... and one that cannot fill every step is an error naming the counts
    expect(() => new TwoSourceSampler({ realCount: 250, synCount: 200, batchSize: 100, realRatio: 0, rng: Rng.fromSeed(12) })).toThrow(
      /realRatio 0.*200 synthetic samples fill only 2 of the 3 batches per epoch/,
    );
    expect(
      () =>
        new TwoSourceSampler({
          realCount: 250,
          synCount: 400,
          batchSize: 100,
          realRatio: 0,
          mode: 'full-real-coverage',
          rng: Rng.fromSeed(12),
        }),
    ).toThrow(/full-real-coverage needs real samples in every batch/);
  });

  it('rejects impossible settings', () => {
    expect(() => new TwoSourceSampler({ realCount: 10, synCount: 5, batchSize: 1, realRatio: 0.5, rng: Rng.fromSeed(0) })).toThrow(
      /no real sample/,
    );
    expect(() => new TwoSourceSampler({ realCount: 10, synCount: 5, batchSize: 8, realRatio: 1.5, rng: Rng.fromSeed(0) })).toThrow(
      /realRatio/,
    );
    expect(() => syntheticPool(10, 5, 0)).toThrow(/extraPercent/);
  });
});
