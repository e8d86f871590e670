import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { pnmlArgs, PnmlPostprocessor, pnmlProjector } from '../src/postprocessors/pnml.js';
import { expectClose, featureSplit, finalLayer, fitAndScore, softmax64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('pnml', () => {
  // Normalised train rows e1, e1, e2 (scaled copies): ẐᵀẐ = diag(2, 1, 0), P = pinv = diag(½, 1, 0).
  const train = featureSplit('train', [
    [3, 0, 0],
    [0.5, 0, 0],
    [0, 7, 0],
  ]);
  const identity = finalLayer(
    [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
    [0, 0, 0],
  );
  it('P = pinv(ẐᵀẐ) of the normalised train features (the null direction stays zero)', () => {
    expectClose(pnmlProjector(train.features, 3, 3), [0.5, 0, 0, 0, 1, 0, 0, 0, 0], 1e-12);
  });
  it('conf = −log Σ p / (p + (1 − p)·p^κ) / log C with κ = ẑᵀPẑ / (1 + ẑᵀPẑ): hand-computed', async () => {
    const r = await fitAndScore(new PnmlPostprocessor(pnmlArgs, {}), { finalLayer: identity }, { train }, [
      [5, 0, 0], // ẑ = e1: ẑᵀPẑ = ½ → κ = ⅓; p = softmax(ẑ) = softmax(1, 0, 0)
      [0, 0, 4], // ẑ = e3, outside the train span: κ = 0, Σ p = 1 → regret 0, the largest conf
    ]);
    const p = softmax64([1, 0, 0]);
    const regret = Math.log(p.reduce((s, pc) => s + pc / (pc + (1 - pc) * pc ** (1 / 3)), 0)) / Math.log(3);
    expectClose(r.conf, [-regret, 0], 1e-6);
    expect(r.conf[1]).toBeGreaterThan(r.conf[0]!);
    expect(Array.from(r.pred)).toEqual([0, 2]);
  });
});
