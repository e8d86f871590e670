import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { klmArgs, KlmPostprocessor } from '../src/postprocessors/klm.js';
import { argmax64, expectClose, featureSplit, finalLayer, fitAndScore, softmax64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const eye3 = finalLayer(
  [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ],
  [0, 0, 0],
);

/** KL(p ‖ q) = Σ p log(p/q) — test sample first, template second (scipy.stats.entropy(p, q)). */
function kl(p: number[], q: number[]): number {
  return p.reduce((s, v, j) => (v === 0 ? s : s + v * Math.log(v / q[j])), 0);
}

describe('klm', () => {
  it('conf = −min_c KL(softmax ‖ mean softmax of val samples predicted c); an unpredicted class gets a one-hot template', async () => {
    // val: two samples predicted 0, one predicted 1, none predicted 2
    const valRows = [
      [2, 0, 0],
      [3, 1, -1],
      [0, 2, 1],
    ];
    const sm = valRows.map(softmax64);
    const q0 = sm[0].map((v, j) => (v + sm[1][j]) / 2);
    const q1 = sm[2];
    const q2 = [0, 0, 1];
    const test = [
      [1, 0.5, 0],
      [0, 0, 3],
      [-1, 2, 0.5],
    ];
    const pp = new KlmPostprocessor(klmArgs, {});
    const r = await fitAndScore(pp, { finalLayer: eye3 }, { val: featureSplit('val', valRows) }, test);
    const expected = test.map((l) => {
      const p = softmax64(l);
      return -Math.min(kl(p, q0), kl(p, q1), kl(p, q2));
    });
    expectClose(r.conf, expected, 1e-5);
    // the direction matters: KL(q ‖ p) gives different values here
    const reversed = test.map((l) => -Math.min(kl(q0, softmax64(l)), kl(q1, softmax64(l))));
    expect(Math.abs(reversed[0] - expected[0])).toBeGreaterThan(1e-3);
    expect(Array.from(r.pred)).toEqual(test.map(argmax64));
    pp.dispose();
  });
});
