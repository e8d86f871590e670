import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { mlsArgs, MlsPostprocessor } from '../src/postprocessors/mls.js';
import { argmax64, expectClose, finalLayer, fitAndScore, logits64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('mls', () => {
  it('conf = max logit, pred = argmax', async () => {
    const layer = finalLayer(
      [
        [2, -1],
        [0, 1],
        [-1, -1],
        [0.5, 0.5],
      ],
      [0, 0.5, 3, -1],
    );
    const rows = [
      [1, 1],
      [3, -2],
      [-1, 4],
    ];
    const pp = new MlsPostprocessor(mlsArgs, {});
    const r = await fitAndScore(pp, { finalLayer: layer }, {}, rows);
    const l = rows.map((z) => logits64(layer, z));
    // hand values: logits row 0 = [1, 1.5, 1, 0] → 1.5; row 1 = [8, -1.5, 2, -0.5] → 8; row 2 = [-6, 4.5, 0, 0.5] → 4.5
    expectClose(r.conf, [1.5, 8, 4.5]);
    expect(Array.from(r.pred)).toEqual(l.map(argmax64));
    pp.dispose();
  });
});
