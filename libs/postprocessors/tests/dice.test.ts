import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { diceArgs, DicePostprocessor } from '../src/postprocessors/dice.js';
import { argmax64, expectClose, featureSplit, finalLayer, fitAndScore, lse64, scoreRows } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

// mean train feature m = (1, 2, 0.5, 4)
const train = featureSplit(
  'train',
  [
    [0, 1, 0, 4],
    [2, 3, 1, 4],
  ],
  [0, 1],
);
const W = [
  [1, -1, 2, 0.5],
  [0.5, 1, -2, 0.25],
];
const B = [0.1, -0.1];
// contributions m⊙W = [[1, −2, 1, 2], [0.5, 2, −1, 1]]; sorted: −2 −1 0.5 1 1 1 2 2
// np.percentile(·, 50) = 1 → keep > 1: (0,3), (1,1); np.percentile(·, 25) = 0.125 → keep > 0.125: six entries
function dice64(z: number[], mask: number[][]) {
  const l = W.map((row, c) => row.reduce((s, w, j) => s + w * mask[c][j] * z[j], B[c]));
  return { conf: lse64(l), pred: argmax64(l) };
}
const mask50 = [
  [0, 0, 0, 1],
  [0, 1, 0, 0],
];
const mask25 = [
  [1, 0, 1, 1],
  [1, 1, 0, 1],
];

describe('dice', () => {
  const test = [
    [1, 1, 1, 1],
    [3, 0, 2, -1],
  ];
  it('masks W where (mean train z)⊙W ≤ the p-th percentile and scores the energy', async () => {
    const pp = new DicePostprocessor(diceArgs, diceArgs.parse({ p: 50 }));
    const r = await fitAndScore(pp, { finalLayer: finalLayer(W, B) }, { train }, test);
    expect(pp.kept).toBe(2);
    const e = test.map((z) => dice64(z, mask50));
    expectClose(
      r.conf,
      e.map((x) => x.conf),
    );
    expect(Array.from(r.pred)).toEqual(e.map((x) => x.pred));
    pp.dispose();
  });
  it('re-derives the mask when p changes (OpenOOD cached it)', async () => {
    const pp = new DicePostprocessor(diceArgs, diceArgs.parse({ p: 50 }));
    await pp.setup({ finalLayer: finalLayer(W, B) }, { train });
    await pp.setHyperparameters({ p: 25 });
    expect(pp.kept).toBe(6);
    expectClose(
      (await scoreRows(pp, test)).conf,
      test.map((z) => dice64(z, mask25).conf),
    );
    pp.dispose();
    expect(diceArgs.parse({}).p).toBe(90);
  });
});
