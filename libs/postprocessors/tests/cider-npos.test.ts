import { initCompute, tf } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { ciderDefinition, CiderPostprocessor } from '../src/postprocessors/cider.js';
import { nposDefinition, NposPostprocessor } from '../src/postprocessors/npos.js';
import { layer, split } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe.each([
  ['cider', () => new CiderPostprocessor(ciderDefinition.args, { K: 2 })],
  ['npos', () => new NposPostprocessor(nposDefinition.args, { K: 2 })],
] as const)('%s (KNN on normalised z, as OpenOOD)', (name, make) => {
  it('hand case: −(K-th squared distance) between normalised rows; scale of z is irrelevant; dummy pred 0', async () => {
    const pp = make();
    expect(pp.name).toBe(name);
    expect(pp.requires).toEqual(['train']);
    // train rows normalise to (0.6, 0.8), (0, 1), (−1, 0)
    await pp.setup({ finalLayer: layer([1, 0, 0, 1], [0, 0], 2, 2) }, { train: split('train', [3, 4, 0, 2, -1, 0], [0, 1, 0], 2) });
    const q = tf.tensor2d([1, 1, 10, 10, 0, -5], [3, 2]);
    const r = await pp.score({ features: q });
    // (1,1)/√2: d² = 2 − 2·cos → 2 − 2·(1.4/√2), 2 − √2, 2 + √2; the 2nd smallest is 2 − √2. (0,−1): 3.6, 4, 2 → 2nd = 3.6
    expect(Array.from(r.conf)).toEqual([2 - Math.SQRT2, 2 - Math.SQRT2, 3.6].map((v) => expect.closeTo(-v, 5)));
    expect(Array.from(r.pred)).toEqual([0, 0, 0]);
    await pp.setHyperparameters({ K: 1 });
    const one = await pp.score({ features: q });
    expect(Array.from(one.conf)).toEqual([2 - 2 * (1.4 / Math.SQRT2), 2 - 2 * (1.4 / Math.SQRT2), 2].map((v) => expect.closeTo(-v, 5)));
    expect(pp.searchGrid({ K: [1, 2, 50, 1000] })).toEqual({ K: [1, 2, 3] });
    tf.dispose(q);
    pp.dispose();
  });
});
