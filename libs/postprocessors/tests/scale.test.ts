import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { scaleArgs, scaleDefinition, ScalePostprocessor } from '../src/postprocessors/scale.js';
import { argmax64, expectClose, finalLayer, fitAndScore, logits64, lse64, scoreRows } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('scale', () => {
  const layer = finalLayer(
    [
      [0.5, 0, 0, -0.5],
      [0, 0.25, 0.25, 0],
    ],
    [0.1, 0],
  );
  const rows = [
    [4, 1, 0, 3],
    [0, 0.5, 2, 0.1],
  ];
  function scale64(z: number[], k: number) {
    const s1 = z.reduce((a, b) => a + b, 0);
    const s2 = [...z]
      .sort((a, b) => b - a)
      .slice(0, k)
      .reduce((a, b) => a + b, 0);
    const l = logits64(
      layer,
      z.map((v) => v * Math.exp(s1 / s2)),
    );
    return { conf: lse64(l), pred: argmax64(l) };
  }
  it('score equals the energy of z·exp(Σz / Σ top-k z)', async () => {
    const pp = new ScalePostprocessor(scaleArgs, scaleArgs.parse({ percentile: 50 })); // k = 2
    const r = await fitAndScore(pp, { finalLayer: layer }, {}, rows);
    // row 0 by hand: s1 = 8, s2 = 7 → scale e^{8/7}
    const e = rows.map((z) => scale64(z, 2));
    expectClose(
      r.conf,
      e.map((x) => x.conf),
    );
    expect(Array.from(r.pred)).toEqual(e.map((x) => x.pred));
    await pp.setHyperparameters({ percentile: 75 }); // k = 1
    expectClose(
      (await scoreRows(pp, rows)).conf,
      rows.map((z) => scale64(z, 1).conf),
    );
    pp.dispose();
  });
  it('defaults and grid follow OpenOOD', () => {
    expect(scaleArgs.parse({}).percentile).toBe(85);
    expect(scaleDefinition.grid).toEqual({ percentile: [65, 70, 75, 80, 85, 90, 95] });
  });
});
