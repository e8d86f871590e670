import { initCompute } from '@oodkit/compute';
import type { Logger } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cadrefArgs, CadrefPostprocessor } from '../src/postprocessors/cadref.js';
import { carefArgs, CarefPostprocessor } from '../src/postprocessors/caref.js';
import { expectClose, featureSplit, finalLayer, fitAndScore, scoreRows } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

// Train rows predicted 0, 0, 1, 1 by both layers below: centroids μ0 = (2, ½), μ1 = (½, 3).
const train = featureSplit('train', [
  [3, 1],
  [1, 0],
  [0, 2],
  [1, 4],
]);

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger & { warnings: string[] } = {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    error: () => undefined,
    warn: (m: string) => void warnings.push(m),
    child: () => logger,
  };
  return logger;
}

describe('caref', () => {
  it('conf = −‖z − μ_ŷ‖₁ / ‖z‖₁ with centroids of the predicted (not the labelled) class', async () => {
    // labels deliberately disagree with the predictions: they must not matter
    const mislabelled = { ...train, labels: Int32Array.from([1, 1, 0, 0]) };
    const identity = finalLayer(
      [
        [1, 0],
        [0, 1],
      ],
      [0, 0],
    );
    const r = await fitAndScore(new CarefPostprocessor(carefArgs, {}), { finalLayer: identity }, { train: mislabelled }, [
      [2, 1],
      [1, 3],
    ]);
    expectClose(r.conf, [-0.5 / 3, -0.5 / 4], 1e-6);
    expect(Array.from(r.pred)).toEqual([0, 1]);
  });
  it('a class never predicted on train falls back to the mean of all train features, with a warning', async () => {
    const logger = recordingLogger();
    const layer = finalLayer(
      [
        [1, 0],
        [0, 1],
        [-10, -10],
      ],
      [0, 0, 0],
    );
    const pp = new CarefPostprocessor(carefArgs, {}, logger);
    const r = await fitAndScore(pp, { finalLayer: layer }, { train }, [[-1, -1]]);
    // z = (−1, −1) is predicted 2; global mean (1.25, 1.75): (2.25 + 2.75) / 2
    expectClose(r.conf, [-2.5], 1e-6);
    expect(Array.from(r.pred)).toEqual([2]);
    expect(logger.warnings.join('\n')).toMatch(/1 of 3 classes are never predicted/);
    pp.dispose();
  });
});

describe('cadref', () => {
  const layer = finalLayer(
    [
      [1, -1],
      [-1, 1],
    ],
    [0, 0],
  );
  it('conf = −(E_p / S(x) + E_n / S̄), errors split by sign(w_ŷ): hand-computed with S = max logit', async () => {
    const pp = new CadrefPostprocessor(cadrefArgs, { logit_score: 'mls' });
    // train max logits 2, 1, 2, 3 → S̄ = 2
    const r = await fitAndScore(pp, { finalLayer: layer }, { train }, [
      [2, 1], // ŷ = 0, r = (0, ½), a = r·(1, −1) = (0, −½): E_p = 0, E_n = ½ / 3
      [4, 1], // ŷ = 0, r = (2, ½), a = (2, −½): E_p = 2/5, E_n = ½/5, S = 3
    ]);
    expect(pp.trainMeanConfidence).toBeCloseTo(2, 6);
    expectClose(r.conf, [-(0.5 / 3) / 2, -(0.4 / 3 + 0.1 / 2)], 1e-6);
    pp.dispose();
  });
  it('re-derives S̄ when logit_score changes (grid energy, gen, mls, msp)', async () => {
    const pp = new CadrefPostprocessor(cadrefArgs, cadrefArgs.parse({}));
    await fitAndScore(pp, { finalLayer: layer }, { train }, [[2, 1]]);
    // energy: mean of logsumexp over the train logits (2, −2), (1, −1), (−2, 2), (−3, 3)
    const lse = (a: number, b: number) => Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));
    expect(pp.trainMeanConfidence).toBeCloseTo((lse(2, -2) + lse(1, -1) + lse(-2, 2) + lse(-3, 3)) / 4, 5);
    await pp.setHyperparameters({ logit_score: 'msp' });
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    expect(pp.trainMeanConfidence).toBeCloseTo((sig(4) + sig(2) + sig(4) + sig(6)) / 4, 5);
    const r = await scoreRows(pp, [[2, 1]]);
    expectClose(r.conf, [-(0.5 / 3) / pp.trainMeanConfidence], 1e-5);
    pp.dispose();
  });
});
