import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { mdsArgs, MdsPostprocessor } from '../src/postprocessors/mds.js';
import {
  argmax64,
  expectClose,
  featureSplit,
  finalLayer,
  fitAndScore,
  logits64,
  mdsLayer as layer,
  mdsTrainLabels as trainLabels,
  mdsTrainRows as trainRows,
} from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const maha = (dx: number, dy: number) => dx * dx - 2 * dx * dy + 2 * dy * dy;

describe('mds', () => {
  it('conf = max_c −(z−μ_c)ᵀ Σ⁻¹ (z−μ_c) with the pooled class-centred covariance', async () => {
    const test = [
      [1, 0],
      [2, 2],
      [11, 12],
      [-3, 4],
    ];
    const pp = new MdsPostprocessor(mdsArgs, {});
    const r = await fitAndScore(pp, { finalLayer: layer }, { train: featureSplit('train', trainRows, trainLabels) }, test);
    const expected = test.map(([x, y]) => Math.max(-maha(x - 1, y), -maha(x - 11, y - 10)));
    expect(expected[0]).toBe(-0);
    expectClose(r.conf, expected, 1e-5);
    expect(Array.from(r.pred)).toEqual(test.map((z) => argmax64(logits64(layer, z))));
    pp.dispose();
  });
  it('uses the pseudo-inverse (sklearn pinvh) when the covariance is singular', async () => {
    // second feature constant 5 → Σ = [[v, 0], [0, 0]] with v = within-class variance of feature 1
    const rows = [
      [0, 5],
      [2, 5],
      [10, 5],
      [14, 5],
    ];
    const labels = [0, 0, 1, 1];
    const v = (1 + 1 + 4 + 4) / 4;
    const pp = new MdsPostprocessor(mdsArgs, {});
    const test = [
      [1.5, 5],
      [7, -3],
    ];
    const r = await fitAndScore(
      pp,
      {
        finalLayer: finalLayer(
          [
            [1, 0],
            [0, 1],
          ],
          [0, 0],
        ),
      },
      { train: featureSplit('train', rows, labels) },
      test,
    );
    // the constant direction is ignored entirely (pinv zeroes it), so [7, −3] scores as if on the line
    expectClose(
      r.conf,
      test.map(([x]) => Math.max(-((x - 1) ** 2) / v, -((x - 12) ** 2) / v)),
      1e-5,
    );
    pp.dispose();
  });
  it('a class without train samples is a clear error', async () => {
    const pp = new MdsPostprocessor(mdsArgs, {});
    await expect(
      pp.setup({ finalLayer: finalLayer([[1], [1], [1]], [0, 0, 0]) }, { train: featureSplit('train', [[1], [2]], [0, 1]) }),
    ).rejects.toThrow(/class 2 has no samples/);
    await expect(pp.setup({ finalLayer: layer }, {})).rejects.toThrow(/train split/);
    await expect(
      pp.setup(
        { finalLayer: layer },
        {
          train: featureSplit(
            'train',
            [
              [1, 2],
              [NaN, 0],
            ],
            [0, 1],
          ),
        },
      ),
    ).rejects.toThrow(/non-finite feature \(NaN\) at sample 1, dim 0/);
    await expect(pp.setup({ finalLayer: layer }, { train: featureSplit('train', [[1, 2, 3]], [0]) })).rejects.toThrow(/feature dim 3/);
  });
});

describe('mds / rmds properties', () => {
  it('are invariant to an invertible affine map of the feature space (Mahalanobis is affine-invariant)', async () => {
    const { RmdsPostprocessor, rmdsArgs } = await import('../src/postprocessors/rmds.js');
    let s = 3;
    const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const d = 5;
    const rows = Array.from({ length: 60 }, (_, i) => Array.from({ length: d }, (_, j) => rand() + (j === i % 3 ? 2 : 0)));
    const labels = rows.map((_, i) => i % 3);
    const test = Array.from({ length: 10 }, () => Array.from({ length: d }, () => rand() * 3));
    const m = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 2 : 0) + 0.3 * rand()));
    const shift = Array.from({ length: d }, () => rand());
    const map = (z: number[]) => m.map((row, i) => row.reduce((acc, v, j) => acc + v * z[j], shift[i]));
    const head = finalLayer(
      [
        [1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
      ],
      [0, 0, 0],
    );
    for (const make of [() => new MdsPostprocessor(mdsArgs, {}), () => new RmdsPostprocessor(rmdsArgs, {})]) {
      const a = make();
      const plain = await fitAndScore(a, { finalLayer: head }, { train: featureSplit('train', rows, labels) }, test);
      const b = make();
      const mapped = await fitAndScore(b, { finalLayer: head }, { train: featureSplit('train', rows.map(map), labels) }, test.map(map));
      expectClose(mapped.conf, plain.conf, 1e-4);
      a.dispose();
      b.dispose();
    }
  });
});
