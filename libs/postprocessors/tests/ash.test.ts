import { initCompute, tf } from '@oodkit/compute';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ashArgs, ashBinarize, AshPostprocessor, keptCount } from '../src/postprocessors/ash.js';
import { argmax64, expectClose, finalLayer, fitAndScore, logits64, lse64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('ash (ASH-B)', () => {
  it('k = n − np.round(n·p/100), round half to even', () => {
    expect(keptCount(10, 65)).toBe(4); // 6.5 → 6
    expect(keptCount(10, 75)).toBe(2); // 7.5 → 8
    expect(keptCount(512, 65)).toBe(179);
    expect(keptCount(512, 90)).toBe(51);
  });
  it('keeps exactly k activations, each Σz/k, even with ties at the k-th value', () => {
    const z = tf.tensor2d([
      [3, 1, 2, 2, 0, 2, 5, -1, 0, 0],
      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ]) as Tensor2D;
    const out = ashBinarize(z, 65).arraySync(); // k = 4
    // row 0: sum 14, top-4 = 5, 3 and the first two of the tied 2s (indices 2, 3)
    expectClose(out[0], [3.5, 0, 3.5, 3.5, 0, 0, 3.5, 0, 0, 0]);
    expectClose(out[1], [2.5, 2.5, 2.5, 2.5, 0, 0, 0, 0, 0, 0]);
    z.dispose();
  });
  it('conf = logsumexp of the logits of the binarised features', async () => {
    const layer = finalLayer(
      [
        [1, 0, 0, -1],
        [0, 2, 1, 0],
        [0.5, 0.5, 0.5, 0.5],
      ],
      [0, -1, 0.5],
    );
    const rows = [
      [4, 1, 0, 3],
      [0, 0.5, 2, 0.1],
    ];
    // p = 50 → k = 2: row 0 keeps indices 0, 3 at (8/2) = 4; row 1 keeps 2, 1 at 2.6/2 = 1.3
    const shaped = [
      [4, 0, 0, 4],
      [0, 1.3, 1.3, 0],
    ];
    const pp = new AshPostprocessor(ashArgs, ashArgs.parse({ percentile: 50 }));
    const r = await fitAndScore(pp, { finalLayer: layer }, {}, rows);
    expectClose(
      r.conf,
      shaped.map((z) => lse64(logits64(layer, z))),
    );
    expect(Array.from(r.pred)).toEqual(shaped.map((z) => argmax64(logits64(layer, z))));
    pp.dispose();
    expect(ashArgs.parse({}).percentile).toBe(90);
  });
});
