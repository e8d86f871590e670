import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { lbfgsScalar } from '../src/math/lbfgs.js';
import { optimalTemperature, tempScalingArgs, TempScalingPostprocessor, temperatureNll } from '../src/postprocessors/temp_scaling.js';
import { expectClose, featureSplit, finalLayer, scoreRows, softmax64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

// Every val sample has logits (2, 0); 3 of 4 are labelled 0. The NLL is minimal where
// σ(2/T) = 3/4, i.e. T* = 2 / ln 3.
const layer = finalLayer([[2], [0]], [0, 0]);
const val = featureSplit('val', [[1], [1], [1], [1]], [0, 0, 0, 1]);
const tStar = 2 / Math.log(3);

describe('temp_scaling', () => {
  it("fit 'optimum' finds the analytic NLL minimiser and scores max softmax(ℓ/T)", async () => {
    const pp = new TempScalingPostprocessor(tempScalingArgs, tempScalingArgs.parse({ fit: 'optimum' }));
    await pp.setup({ finalLayer: layer }, { val });
    expect(pp.temperature).toBeCloseTo(tStar, 10);
    const r = await scoreRows(pp, [[1], [-0.5]]);
    expectClose(r.conf, [Math.max(...softmax64([2 / tStar, 0])), Math.max(...softmax64([-1 / tStar, 0]))]);
    expect(Array.from(r.pred)).toEqual([0, 1]);
    pp.dispose();
  });
  it('optimalTemperature agrees with the unique root on a mixed 3-class problem', () => {
    const logits = Float32Array.from([3, 1, 0, 0, 2, 1, 1, 0, 4, 2, 2, 0, 0.5, 0, 1]);
    const labels = Int32Array.from([0, 1, 2, 1, 2]);
    const t = optimalTemperature(logits, labels, 5, 3);
    const h = 1e-5;
    const left = temperatureNll(logits, labels, 5, 3, t - h).loss;
    const mid = temperatureNll(logits, labels, 5, 3, t).loss;
    const right = temperatureNll(logits, labels, 5, 3, t + h).loss;
    expect(mid).toBeLessThanOrEqual(left);
    expect(mid).toBeLessThanOrEqual(right);
    expect(Math.abs(temperatureNll(logits, labels, 5, 3, t).grad)).toBeLessThan(1e-10);
  });
  it('temperatureNll derivative matches finite differences', () => {
    const logits = Float32Array.from([3, 1, 0, 0, 2, 1]);
    const labels = Int32Array.from([1, 2]);
    for (const t of [0.5, 1.5, 4]) {
      const h = 1e-6;
      const fd = (temperatureNll(logits, labels, 2, 3, t + h).loss - temperatureNll(logits, labels, 2, 3, t - h).loss) / (2 * h);
      expect(temperatureNll(logits, labels, 2, 3, t).grad).toBeCloseTo(fd, 6);
    }
  });
  it('lbfgsScalar reproduces torch LBFGS without line search: on (x−3)² from 1.5, x₅₀ = 3 − 1.49·0.99⁴⁹', () => {
    // step 1: t = min(1, 1/|g|)·lr = 0.01/3, d = 3 → x = 1.51; every later step is the exact
    // secant (= Newton) step scaled by lr, so the gap shrinks by 0.99 per iteration.
    const x = lbfgsScalar((v) => ({ loss: (v - 3) ** 2, grad: 2 * (v - 3) }), 1.5, { lr: 0.01, maxIter: 50 });
    expect(x).toBeCloseTo(3 - 1.49 * 0.99 ** 49, 12);
    // float32 mode (torch's float32 parameter): same trajectory to float32 precision
    const x32 = lbfgsScalar((v) => ({ loss: (v - 3) ** 2, grad: 2 * (v - 3) }), 1.5, { lr: 0.01, maxIter: 50, float32: true });
    expect(x32).toBe(Math.fround(x32));
    expect(Math.abs(x32 - (3 - 1.49 * 0.99 ** 49))).toBeLessThan(1e-5);
    const one = lbfgsScalar((v) => ({ loss: (v - 3) ** 2, grad: 2 * (v - 3) }), 1.5, { lr: 0.01, maxIter: 1 });
    expect(one).toBeCloseTo(1.51, 14);
  });
  it("fit 'openood' (default) moves from 1.5 toward the optimum without reaching it, like OpenOOD's LBFGS", async () => {
    const pp = new TempScalingPostprocessor(tempScalingArgs, tempScalingArgs.parse({}));
    await pp.setup({ finalLayer: layer }, { val });
    expect(pp.temperature).toBeGreaterThan(1.5);
    expect(pp.temperature).toBeLessThan(tStar - 0.05);
    await pp.setHyperparameters({ fit: 'optimum' });
    expect(pp.temperature).toBeCloseTo(tStar, 10);
    pp.dispose();
  });
  it('needs labelled ID val data', async () => {
    const pp = new TempScalingPostprocessor(tempScalingArgs, tempScalingArgs.parse({}));
    await expect(pp.setup({ finalLayer: layer }, {})).rejects.toThrow(/val split/);
    await expect(pp.setup({ finalLayer: layer }, { val: featureSplit('val', [[1]], [-1]) })).rejects.toThrow(/not an ID class/);
  });
});
