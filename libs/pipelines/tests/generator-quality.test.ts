import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { frechetDistance, gaussianMoments } from '@oodkit/evaluators';
import { datasetFeatures } from '../src/features/extract.js';
import { measureGeneratorQuality, perClassAccuracy } from '../src/benchmark/generator-quality.js';
import { TinyNet, plainPreprocess, tinyDataset } from './fixtures/tiny.js';

let net: TinyNet;
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  net = new TinyNet([4, 4, 1], 3, 7);
});
afterAll(() => net.dispose());

describe('generator quality', () => {
  it('per-class accuracy: hits over counts per class, NaN for an absent class', () => {
    const r = perClassAccuracy([0, 1, 1, 2, 0, 0], [0, 1, 2, 2, 1, 0], 4);
    expect(r.overall).toBeCloseTo((100 * 4) / 6, 12);
    expect(r.perClass.slice(0, 3)).toEqual([100, 50, 50]);
    expect(r.perClass[3]).toBeNaN();
  });

  it("is the judge's accuracy on the samples and the Fréchet distance of its features, 0 for a copy of the real set", async () => {
    const real = tinyDataset('real', 60, 3, 1);
    const val = tinyDataset('val', 40, 3, 2);
    const synthetic = tinyDataset('synthetic', 50, 3, 3);
    const before = tf.memory().numTensors;
    const judge = { trainer: 'base', seed: 0, checkpoint: 'checkpoints/best.ckpt' };
    const common = { network: net, realTest: real, realVal: val, chain: plainPreprocess, generator: 'g', variants: ['sio'], judge };
    const q = await measureGeneratorQuality({ ...common, synthetic });
    expect(tf.memory().numTensors).toBe(before);

    // independently: predictions from forward(), features from the feature extractor
    const predict = async (ds: typeof real) => {
      const { features } = await datasetFeatures(net, ds, plainPreprocess, 16);
      const logits = tf.tidy(() => net.head(tf.tensor2d(features, [ds.length, net.featureDim])).argMax(1));
      const pred = Int32Array.from(await logits.data());
      logits.dispose();
      return { pred, features };
    };
    const s = await predict(synthetic);
    const r = await predict(real);
    const v = await predict(val);
    const expected = perClassAccuracy(s.pred, synthetic.labels, 3);
    expect(q.sampleAccuracy).toBeCloseTo(expected.overall, 12);
    expect(q.sampleAccuracyPerClass).toEqual(expected.perClass);
    expect(q.realAccuracy).toBeCloseTo(perClassAccuracy(r.pred, real.labels, 3).overall, 12);
    const m = (f: Float32Array, n: number) => gaussianMoments(f, n, net.featureDim);
    expect(q.frechet).toBeCloseTo(frechetDistance(m(r.features, 60), m(s.features, 50)), 6);
    expect(q.frechetRealFloor).toBeCloseTo(frechetDistance(m(r.features, 60), m(v.features, 40)), 6);
    expect(q.samples).toBe(50);

    const copy = await measureGeneratorQuality({ ...common, synthetic: real });
    expect(Math.abs(copy.frechet)).toBeLessThan(1e-6);
    expect(copy.sampleAccuracy).toBeCloseTo(copy.realAccuracy, 12);
  });
});
