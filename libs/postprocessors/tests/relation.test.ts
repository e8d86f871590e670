import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { relationDefinition, RelationPostprocessor } from '../src/postprocessors/relation.js';
import { clusteredSplit, gaussianRows, layer, logitsRow, randomLayer, split } from './feature-fixtures.js';
import type { FinalLayer } from '@oodkit/core';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

function softmax(l: Float64Array): number[] {
  const m = Math.max(...l);
  const e = Array.from(l, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Independent float64 loop over all (query, train) pairs. */
function naiveRelation(fl: FinalLayer, train: Float32Array, queries: Float32Array, d: number, pow: number): number[] {
  const prep = (src: Float32Array, i: number) => {
    const z = Array.from(src.subarray(i * d, (i + 1) * d));
    const r = Math.sqrt(z.reduce((a, v) => a + v * v, 0) + 1e-10);
    return { f: z.map((v) => v / r), p: softmax(logitsRow(fl, src, i * d)) };
  };
  const bank = Array.from({ length: train.length / d }, (_, i) => prep(train, i));
  return Array.from({ length: queries.length / d }, (_, i) => {
    const q = prep(queries, i);
    let s = 0;
    for (const t of bank) {
      const dot = Math.max(
        0,
        q.f.reduce((a, v, j) => a + v * t.f[j], 0),
      );
      const sim = q.p.reduce((a, v, j) => a + v * t.p[j], 0);
      const rel = dot * sim;
      if (rel > 0.03) s += rel ** pow;
    }
    return s;
  });
}

describe('relation', () => {
  it('hand case: only edges above 0.03 count, raised to pow', async () => {
    // W = 0 → p uniform over 2 classes, ⟨p, p_t⟩ = 0.5. Train directions (1,0), (0,1), (−1,0).
    const pp = new RelationPostprocessor(relationDefinition.args, { pow: 1 });
    await pp.setup({ finalLayer: layer([0, 0, 0, 0], [0, 0], 2, 2) }, { train: split('train', [2, 0, 0, 5, -1, 0], [0, 1, 0], 2) });
    // query (3, 4)/5: dots 0.6, 0.8, −0.6→0; edges 0.3, 0.4 → sum 0.7; pow 2 → 0.09 + 0.16
    // query (1, 0.05)/‖·‖: dots ≈ 0.99875, 0.0499 → edges 0.4994, 0.02496 (dropped, ≤ 0.03)
    const q = tf.tensor2d([3, 4, 1, 0.05], [2, 2]);
    let r = await pp.score({ features: q });
    const c1 = 1 / Math.hypot(1, 0.05);
    expect(r.conf[0]).toBeCloseTo(0.7, 6);
    expect(r.conf[1]).toBeCloseTo(0.5 * c1, 6);
    await pp.setHyperparameters({ pow: 2 });
    r = await pp.score({ features: q });
    expect(r.conf[0]).toBeCloseTo(0.25, 6);
    expect(r.conf[1]).toBeCloseTo((0.5 * c1) ** 2, 6);
    q.dispose();
    pp.dispose();
  });

  it('agrees with an O(N·M) float64 loop on random data for the whole pow grid, without leaks', async () => {
    const rng = Rng.fromSeed(31);
    const d = 8;
    const fl = randomLayer(rng, 3, d);
    const train = clusteredSplit(rng.derive('t'), 'train', 120, 3, d, true);
    const queries = gaussianRows(rng.derive('q'), 10, d, 1, 1.5);
    const pp = new RelationPostprocessor(relationDefinition.args, { pow: 1 });
    await pp.setup({ finalLayer: fl }, { train });
    const before = tf.memory().numTensors;
    const q = tf.tensor2d(queries, [10, d]);
    for (const pow of relationDefinition.grid!.pow!) {
      await pp.setHyperparameters({ pow });
      const r = await pp.score({ features: q });
      const want = naiveRelation(fl, train.features, queries, d, pow);
      r.conf.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, want[i])));
    }
    q.dispose();
    expect(tf.memory().numTensors).toBe(before);
    pp.dispose();
  });
});
