import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initCompute } from '@oodkit/compute';
import {
  B0,
  C,
  LinearClassifier,
  OUTLIERS,
  SHAPE,
  W0,
  X,
  Y,
  buildTrainer,
  ce,
  disposeBatch,
  logSoftmax,
  logitsOf,
  makeBatch,
  mean,
} from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const plan = { epochs: 1, stepsPerEpoch: 4 };
const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

async function trained(name: string, args: Record<string, unknown>) {
  const net = new LinearClassifier(SHAPE, C, W0, B0);
  const batch = makeBatch(X, Y, SHAPE);
  const outliers = makeBatch(
    OUTLIERS,
    OUTLIERS.map(() => -1),
    SHAPE,
  );
  cleanup.push(
    () => net.dispose(),
    () => disposeBatch(batch),
    () => disposeBatch(outliers),
  );
  const trainer = await buildTrainer(name, args);
  trainer.init(net, plan);
  return { trainer, batch, outliers };
}

// plain-JS reference (pytorch-ood's definitions, evaluated by hand)
const energy = (l: number[]) => logSoftmax(l)[0]! - l[0]!; // −logsumexp ℓ = log softmax_0 − ℓ_0
const idLogits = X.map((x) => logitsOf(W0, B0, x));
const oodLogits = OUTLIERS.map((x) => logitsOf(W0, B0, x));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const hinge2 = (v: number) => Math.max(0, v) ** 2;

describe('energy_oe (energy-regularised OE, Liu et al. 2020 / pytorch-ood EnergyRegularizedLoss)', () => {
  // margins at the median energies, so some samples are inside and some outside each hinge
  const mIn = median(idLogits.map(energy));
  const mOut = median(oodLogits.map(energy));
  const inPen = idLogits.map((l) => hinge2(energy(l) - mIn));
  const outPen = oodLogits.map((l) => hinge2(mOut - energy(l)));

  it('both hinges are exercised by the test data', () => {
    expect(inPen.filter((p) => p === 0).length).toBeGreaterThan(0);
    expect(inPen.filter((p) => p > 0).length).toBeGreaterThan(0);
    expect(outPen.filter((p) => p === 0).length).toBeGreaterThan(0);
    expect(outPen.filter((p) => p > 0).length).toBeGreaterThan(0);
  });

  it('separate (paper): CE + α·(mean_in max(0, E − m_in)² + mean_out max(0, m_out − E)²)', async () => {
    const { trainer, batch, outliers } = await trained('energy_oe', { alpha: 2, m_in: mIn, m_out: mOut });
    expect(trainer.needsOutliers).toBe(true);
    const { loss } = await trainer.step(batch, outliers);
    const cross = mean(idLogits.map((l, i) => ce(l, Y[i]!)));
    expect(loss).toBeCloseTo(cross + 2 * (mean(inPen) + mean(outPen)), 5);
  });

  it('joint (pytorch-ood): one mean over [ID; outliers] of CE (0 for outliers) + α·penalty', async () => {
    const { trainer, batch, outliers } = await trained('energy_oe', { alpha: 2, m_in: mIn, m_out: mOut, reduction: 'joint' });
    const { loss } = await trainer.step(batch, outliers);
    const perSample = [...idLogits.map((l, i) => ce(l, Y[i]!) + 2 * inPen[i]!), ...outPen.map((p) => 2 * p)];
    expect(loss).toBeCloseTo(mean(perSample), 5);
  });

  it('margins far outside every energy: the regulariser vanishes and the loss is the plain CE', async () => {
    const { trainer, batch, outliers } = await trained('energy_oe', { m_in: 100, m_out: -100 });
    const { loss } = await trainer.step(batch, outliers);
    expect(loss).toBeCloseTo(mean(idLogits.map((l, i) => ce(l, Y[i]!))), 5);
  });
});

describe('objectosphere (Dhamija et al. 2018 / pytorch-ood ObjectosphereLoss)', () => {
  // LinearClassifier's z is the flattened image, so ‖z‖ is the image norm
  const norm = (x: number[]) => Math.hypot(...x);

  it('mean over [ID; outliers] of entropic loss + α·(max(0, ξ − ‖z‖)² known, ‖z‖² unknown)', async () => {
    const xi = median(X.map(norm)); // half of the known samples below ξ
    const { trainer, batch, outliers } = await trained('objectosphere', { alpha: 0.3, xi });
    const { loss } = await trainer.step(batch, outliers);
    const known = idLogits.map((l, i) => ce(l, Y[i]!) + 0.3 * hinge2(xi - norm(X[i]!)));
    const unknown = oodLogits.map((l, i) => -mean(logSoftmax(l)) + 0.3 * norm(OUTLIERS[i]!) ** 2);
    expect(X.some((x) => norm(x) < xi) && X.some((x) => norm(x) > xi)).toBe(true);
    expect(loss).toBeCloseTo(mean([...known, ...unknown]), 5);
  });

  it('α = 0 is the entropic open-set loss alone', async () => {
    const { trainer, batch, outliers } = await trained('objectosphere', { alpha: 0 });
    const { loss } = await trainer.step(batch, outliers);
    expect(loss).toBeCloseTo(mean([...idLogits.map((l, i) => ce(l, Y[i]!)), ...oodLogits.map((l) => -mean(logSoftmax(l)))]), 5);
  });
});
