import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { rmdsArgs, RmdsPostprocessor } from '../src/postprocessors/rmds.js';
import {
  argmax64,
  expectClose,
  featureSplit,
  fitAndScore,
  logits64,
  mdsLayer as layer,
  mdsTrainLabels as trainLabels,
  mdsTrainRows as trainRows,
} from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('rmds', () => {
  it('conf = max_c [−d_c(z) + d_0(z)] with a background Gaussian of all train features', async () => {
    // class part as in mds.test: precision [[1,−1],[−1,2]].
    // background: whole mean (6, 5); total covariance = within [[2,1],[1,1]] + between [[25,25],[25,25]]
    // = [[27,26],[26,26]], det 26 → precision [[26,−26],[−26,27]]/26.
    const dc = (dx: number, dy: number) => dx * dx - 2 * dx * dy + 2 * dy * dy;
    const d0 = (dx: number, dy: number) => (26 * dx * dx - 52 * dx * dy + 27 * dy * dy) / 26;
    const test = [
      [1, 0],
      [6, 5],
      [11, 12],
      [-3, 4],
    ];
    const pp = new RmdsPostprocessor(rmdsArgs, {});
    const r = await fitAndScore(pp, { finalLayer: layer }, { train: featureSplit('train', trainRows, trainLabels) }, test);
    const expected = test.map(([x, y]) => {
      const bg = d0(x - 6, y - 5);
      return Math.max(-dc(x - 1, y) + bg, -dc(x - 11, y - 10) + bg);
    });
    expectClose(r.conf, expected, 1e-5);
    expect(Array.from(r.pred)).toEqual(test.map((z) => argmax64(logits64(layer, z))));
    pp.dispose();
  });
});
