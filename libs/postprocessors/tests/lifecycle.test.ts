import { initCompute } from '@oodkit/compute';
import { Rng, silentLogger, type BuildContext, type FinalLayer } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { foldGrid } from '../src/lifecycle/grid.js';
import { knnDefinition, KnnPostprocessor } from '../src/postprocessors/knn.js';
import * as legacyBase from '../src/math/base.js';
import { BasePostprocessor, firstNonFinite } from '../src/lifecycle/base-postprocessor.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const layer: FinalLayer = { numClasses: 2, featureDim: 2, weight: Float32Array.from([1, 0, 0, 1]), bias: new Float32Array(2) };
const train = {
  name: 'train',
  count: 4,
  dim: 2,
  features: Float32Array.from([1, 0, 0, 1, 2, 1, 1, 2]),
  labels: Int32Array.from([0, 1, 0, 1]),
};
const ctx = { rng: Rng.fromSeed(0), logger: silentLogger, config: {} } as unknown as BuildContext;

describe('foldGrid', () => {
  it('maps folded keys, keeps the first of equal values in place, drops keys without values', () => {
    const folded = foldGrid({ K: [50, 2, 100, 3, 1000], p: [1, 2], q: undefined }, { K: (k) => Math.min(Number(k), 3) });
    expect(folded).toEqual({ K: [3, 2], p: [1, 2] });
    expect(Object.keys(folded)).toEqual(['K', 'p']);
  });
});

describe('BasePostprocessor lifecycle', () => {
  it('searchGrid returns the grid unchanged before setup and folds it once fitted', async () => {
    const pp = (await knnDefinition.create(knnDefinition.args.parse({}), ctx)) as KnnPostprocessor;
    expect(pp.searchGrid(knnDefinition.grid as never)).toEqual({ K: [50, 100, 200, 500, 1000] });
    await pp.setup({ finalLayer: layer }, { train });
    expect(pp.searchGrid(knnDefinition.grid as never)).toEqual({ K: [4] });
    pp.dispose();
  });

  it("definePostprocessor builds the class with the definition's own schema", async () => {
    const pp = await knnDefinition.create({ K: 1 }, ctx);
    expect(pp).toBeInstanceOf(KnnPostprocessor);
    await expect(pp.setHyperparameters({ K: 0 })).rejects.toThrow(/postprocessor\.args\.K/);
    await expect(pp.setHyperparameters({ k: 2 })).rejects.toThrow(/k/);
    await pp.setHyperparameters({ K: 2 });
    expect(pp.hyperparameters()).toEqual({ K: 2 });
  });

  it('the old import path math/base re-exports the same class', () => {
    expect(legacyBase.BasePostprocessor).toBe(BasePostprocessor);
  });
});

describe('firstNonFinite (the setup splits check)', () => {
  it('finds the first NaN or ±Infinity in any block, and nothing in finite values (−0 and huge ones included)', () => {
    const n = 3 * 65536 + 17; // blocks of 65,536 values and a partial one
    const values = new Float32Array(n).map((_, i) => ((i % 97) - 48) * 1e30);
    values[5] = -0;
    expect(firstNonFinite(values)).toBe(-1);
    for (const [at, bad] of [
      [0, NaN],
      [65535, Infinity],
      [65536, -Infinity],
      [n - 1, NaN],
    ] as const) {
      const v = values.slice();
      v[at] = bad;
      v[n - 2] = NaN; // a later one in the same or a later block
      expect(firstNonFinite(v)).toBe(at === n - 1 ? n - 2 : at);
    }
    expect(firstNonFinite(new Float32Array(0))).toBe(-1);
  });
});
