import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { mspArgs, mspDefinition, MspPostprocessor } from '../src/postprocessors/msp.js';
import { argmax64, expectClose, finalLayer, fitAndScore, logits64, softmax64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

// 3 samples × 4 classes through a non-trivial final layer (D = 3)
const layer = finalLayer(
  [
    [1, 0, -1],
    [0.5, 2, 0],
    [-1, 1, 1],
    [0, 0, 0.25],
  ],
  [0.1, -0.2, 0, 0.3],
);
const rows = [
  [1, 2, 3],
  [-1, 0.5, 2],
  [4, -2, 0],
];

describe('msp', () => {
  it('conf = max softmax(z·Wᵀ + b), pred = argmax', async () => {
    const pp = new MspPostprocessor(mspArgs, mspArgs.parse({}));
    const r = await fitAndScore(pp, { finalLayer: layer }, {}, rows);
    const l = rows.map((z) => logits64(layer, z));
    expectClose(
      r.conf,
      l.map((v) => Math.max(...softmax64(v))),
    );
    expect(Array.from(r.pred)).toEqual(l.map(argmax64));
    pp.dispose();
  });
  it('refuses to score before setup and rejects unknown args', async () => {
    const pp = mspDefinition.create(mspArgs.parse({}), {} as never) as MspPostprocessor;
    await expect(pp.score({ features: null as never })).rejects.toThrow(/setup/);
    expect(() => mspArgs.parse({ T: 1 })).toThrow();
    await expect(pp.setHyperparameters({ T: 2 })).rejects.toThrow(/unknown key 'T'/);
  });
  it('rejects features of the wrong width', async () => {
    const pp = new MspPostprocessor(mspArgs, {});
    await expect(fitAndScore(pp, { finalLayer: layer }, {}, [[1, 2]])).rejects.toThrow(/expected \[N, 3\]/);
    pp.dispose();
  });
});
