import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { genArgs, genDefinition, GenPostprocessor } from '../src/postprocessors/gen.js';
import { expectClose, finalLayer, fitAndScore, scoreRows, softmax64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const eye4 = finalLayer(
  [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ],
  [0, 0, 0, 0],
);
const rows = [
  [2, 1, 0, -1],
  [0, 0, 0, 0],
  [5, 0, 0, 0],
];

function gen64(l: number[], gamma: number, m: number): number {
  const p = softmax64(l)
    .sort((a, b) => b - a)
    .slice(0, m);
  return -p.reduce((s, v) => s + v ** gamma * (1 - v) ** gamma, 0);
}

describe('gen', () => {
  it('conf = −Σ_top-M p^γ(1−p)^γ', async () => {
    const pp = new GenPostprocessor(genArgs, genArgs.parse({ gamma: 0.5, M: 2 }));
    const r = await fitAndScore(pp, { finalLayer: eye4 }, {}, rows);
    // uniform row by hand: two probabilities of 1/4 → −2·√(1/4·3/4) = −√3/2
    expect(r.conf[1]).toBeCloseTo(-Math.sqrt(3) / 2, 6);
    expectClose(
      r.conf,
      rows.map((l) => gen64(l, 0.5, 2)),
    );
    await pp.setHyperparameters({ gamma: 2, M: 3 });
    expectClose(
      (await scoreRows(pp, rows)).conf,
      rows.map((l) => gen64(l, 2, 3)),
    );
    pp.dispose();
  });
  it('M ≥ C uses every class, and searchGrid folds those M values into one', async () => {
    const pp = new GenPostprocessor(genArgs, genArgs.parse({ gamma: 0.1, M: 1000 }));
    const r = await fitAndScore(pp, { finalLayer: eye4 }, {}, rows);
    expectClose(
      r.conf,
      rows.map((l) => gen64(l, 0.1, 4)),
    );
    expect(pp.searchGrid(genDefinition.grid!)['M']).toEqual([4]);
    pp.dispose();
    expect(genDefinition.grid).toEqual({ gamma: [0.01, 0.1, 0.5, 1, 2, 5, 10], M: [10, 50, 100, 200, 500, 1000] });
  });
});
