import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { entropyArgs, EntropyPostprocessor } from '../src/postprocessors/entropy.js';
import { expectClose, finalLayer, fitAndScore } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('entropy', () => {
  it('conf = Σ p log p: −log C for uniform posteriors, 0 for one-hot ones, p clipped at 1e-7', async () => {
    const identity = finalLayer(
      [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
      [0, 0, 0],
    );
    const rows = [
      [0, 0, 0],
      [Math.log(2), 0, 0], // p = (1/2, 1/4, 1/4)
      [200, 0, 0], // p = (1, e^-200, e^-200): both tails clipped to 1e-7
    ];
    const r = await fitAndScore(new EntropyPostprocessor(entropyArgs, {}), { finalLayer: identity }, {}, rows);
    const clipped = 2 * 1e-7 * Math.log(1e-7);
    expectClose(r.conf, [-Math.log(3), 0.5 * Math.log(0.5) + 0.5 * Math.log(0.25), clipped], 1e-6);
    expect(r.conf[2]).toBeLessThan(-3e-6); // without the clip it would be ~ −1e-85
    expect(Array.from(r.pred)).toEqual([0, 0, 0]);
  });
});
