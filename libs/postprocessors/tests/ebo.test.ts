import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { eboArgs, eboDefinition, EboPostprocessor } from '../src/postprocessors/ebo.js';
import { expectClose, finalLayer, fitAndScore, lse64, scoreRows } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('ebo', () => {
  // identity layer: logits are the rows themselves
  const layer = finalLayer(
    [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ],
    [0, 0, 0, 0],
  );
  const rows = [
    [1, 2, 3, 4],
    [0, 0, 0, 0],
    [10, -10, 5, 0],
  ];
  it('conf = T·logsumexp(ℓ/T) for T = 1 and after setHyperparameters(T = 10)', async () => {
    const pp = new EboPostprocessor(eboArgs, eboArgs.parse({}));
    const r1 = await fitAndScore(pp, { finalLayer: layer }, {}, rows);
    // row 1: log 4
    expectClose(r1.conf, [lse64([1, 2, 3, 4]), Math.log(4), lse64([10, -10, 5, 0])]);
    await pp.setHyperparameters({ temperature: 10 });
    const r10 = await scoreRows(pp, rows);
    expectClose(
      r10.conf,
      rows.map((l) => 10 * lse64(l.map((v) => v / 10))),
    );
    expect(Array.from(r10.pred)).toEqual([3, 0, 0]);
    pp.dispose();
  });
  it('grid is the reference one and a non-positive temperature is rejected', async () => {
    expect(eboDefinition.grid).toEqual({ temperature: [1] });
    const pp = new EboPostprocessor(eboArgs, eboArgs.parse({}));
    await expect(pp.setHyperparameters({ temperature: 0 })).rejects.toThrow(/temperature/);
  });
});
