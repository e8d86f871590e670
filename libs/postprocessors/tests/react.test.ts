import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { reactArgs, reactDefinition, ReactPostprocessor } from '../src/postprocessors/react.js';
import { argmax64, expectClose, featureSplit, finalLayer, fitAndScore, logits64, lse64, scoreRows } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

// val activations flattened: 0..11 → np.percentile(·, 90) = 9.9, (·, 50) = 5.5
const val = featureSplit('val', [
  [0, 1, 2],
  [3, 4, 5],
  [6, 7, 8],
  [9, 10, 11],
]);
const layer = finalLayer(
  [
    [1, 0, -1],
    [0.2, 0.3, 0.1],
  ],
  [0, 1],
);
const test = [
  [12, 1, 20],
  [0.5, 30, 2],
];

function react64(z: number[], t: number) {
  const l = logits64(
    layer,
    z.map((v) => Math.min(v, t)),
  );
  return { conf: lse64(l), pred: argmax64(l) };
}

describe('react', () => {
  it('clips z at the p-th percentile of all val activations and scores logsumexp of the new logits', async () => {
    const pp = new ReactPostprocessor(reactArgs, reactArgs.parse({}));
    const r = await fitAndScore(pp, { finalLayer: layer }, { val }, test);
    expect(pp.threshold).toBe(Math.fround(9.9));
    const e = test.map((z) => react64(z, 9.9));
    expectClose(
      r.conf,
      e.map((x) => x.conf),
    );
    expect(Array.from(r.pred)).toEqual(e.map((x) => x.pred));
    pp.dispose();
  });
  it('re-derives the threshold when the percentile changes (no stale state)', async () => {
    const pp = new ReactPostprocessor(reactArgs, reactArgs.parse({ percentile: 90 }));
    await pp.setup({ finalLayer: layer }, { val });
    const r90 = await scoreRows(pp, test);
    await pp.setHyperparameters({ percentile: 50 });
    expect(pp.threshold).toBe(5.5);
    const r50 = await scoreRows(pp, test);
    expectClose(
      r50.conf,
      test.map((z) => react64(z, 5.5).conf),
    );
    expect(r50.conf[0]).not.toBeCloseTo(r90.conf[0], 3);
    pp.dispose();
    expect(reactDefinition.grid).toEqual({ percentile: [85, 90, 95, 99] });
  });
});
