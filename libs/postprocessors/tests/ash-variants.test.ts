import { initCompute } from '@oodkit/compute';
import { createOodkitContainer, registryOf } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { ashPArgs, AshPPostprocessor } from '../src/postprocessors/ash_p.js';
import { ashSArgs, AshSPostprocessor } from '../src/postprocessors/ash_s.js';
import { argmax64, expectClose, expectGridInsideSchema, finalLayer, fitAndScore, logits64, lse64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

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
// p = 50 → k = 2: row 0 keeps indices 0, 3 (sum 8 → kept 7); row 1 keeps 2, 1 (sum 2.6 → kept 2.5)
const pruned = [
  [4, 0, 0, 3],
  [0, 0.5, 2, 0],
];
const expectScores = (r: { conf: Float64Array; pred: Int32Array }, shaped: number[][]) => {
  expectClose(
    r.conf,
    shaped.map((z) => lse64(logits64(layer, z))),
  );
  expect(Array.from(r.pred)).toEqual(shaped.map((z) => argmax64(logits64(layer, z))));
};

describe('ash_p and ash_s (pytorch-ood ASH variants)', () => {
  it('ash_p: energy of the logits of the pruned z (kept values unchanged)', async () => {
    const pp = new AshPPostprocessor(ashPArgs, ashPArgs.parse({ percentile: 50 }));
    expectScores(await fitAndScore(pp, { finalLayer: layer }, {}, rows), pruned);
    pp.dispose();
  });

  it('ash_s: the pruned z scaled by exp(Σz / Σkept)', async () => {
    const pp = new AshSPostprocessor(ashSArgs, ashSArgs.parse({ percentile: 50 }));
    const scales = [Math.exp(8 / 7), Math.exp(2.6 / 2.5)];
    expectScores(
      await fitAndScore(pp, { finalLayer: layer }, {}, rows),
      pruned.map((z, i) => z.map((v) => v * scales[i]!)),
    );
    pp.dispose();
  });

  it('are registered with the ash grid', () => {
    const registry = registryOf(createOodkitContainer([postprocessorsModule]));
    for (const name of ['ash_p', 'ash_s']) expectGridInsideSchema(registry, name);
  });
});
