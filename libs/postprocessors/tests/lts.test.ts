import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { ltsArgs, LtsPostprocessor, ltsTopCount } from '../src/postprocessors/lts.js';
import { expectClose, finalLayer, fitAndScore, lse64, logits64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('lts', () => {
  const layer = finalLayer(
    [
      [1, 0, 0, 1],
      [0, 2, -1, 0],
    ],
    [0.5, -0.5],
  );
  it('conf = logsumexp(ℓ / T), T = (Σz / Σ top-k z)²: hand-computed', async () => {
    const z = [1, 2, 3, 4];
    // p = 0.25 → k = 1: T = (10 / 4)²; p = 0.5 → k = 2: T = (10 / 7)²
    for (const [p, t] of [
      [0.25, 6.25],
      [0.5, (10 / 7) ** 2],
    ] as const) {
      const r = await fitAndScore(new LtsPostprocessor(ltsArgs, { p }), { finalLayer: layer }, {}, [z, [0, 0, 0, 0]]);
      // an all-zero feature keeps T = 1 (pytorch-ood would divide 0/0)
      expectClose(r.conf, [lse64(logits64(layer, z).map((l) => l / t)), lse64([0.5, -0.5])], 1e-6);
      expect(Array.from(r.pred)).toEqual([0, 0]);
    }
  });
  it('k = max(1, round(D·p)) with Python rounding (half to even)', () => {
    expect(ltsTopCount(512, 0.05)).toBe(26);
    expect(ltsTopCount(84, 0.05)).toBe(4);
    expect(ltsTopCount(10, 0.05)).toBe(1); // round(0.5) = 0 → at least one
    expect(ltsTopCount(8, 0.3125)).toBe(2); // round(2.5) = 2
    expect(ltsTopCount(8, 0.4375)).toBe(4); // round(3.5) = 4
  });
});
