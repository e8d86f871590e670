import { initCompute, tf } from '@oodkit/compute';
import { createOodkitContainer, registryOf, Rng } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fitTiedGmm, kmeans } from '../src/math/mixture.js';
import { postprocessorsModule } from '../src/module.js';
import { GMM_LOG_FLOOR, gmmArgs, gmmLogDensity, GmmPostprocessor } from '../src/postprocessors/gmm.js';
import { expectClose, featureSplit, finalLayer, fitAndScore, referenceScorer, type ReferenceFixture } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const { ref } = referenceScorer('breadth-methods-reference.json', registry);
const chunk = (flat: number[], d: number): number[][] => Array.from({ length: flat.length / d }, (_, i) => flat.slice(i * d, (i + 1) * d));
const expected = (key: string): number[] => (ref as ReferenceFixture).expected[key]!;

describe('tied Gaussian mixture EM (math/mixture.ts) against scikit-learn 1.2', () => {
  it('from the same hard labels: same iterations, lower bound, weights, means and covariance', () => {
    const n = ref.train_labels.length;
    const x = Float64Array.from(ref.train);
    const labels = Int32Array.from(expected('gmm_em_labels'));
    const g = fitTiedGmm(x, n, ref.D, labels, 3);
    expect(g.converged).toBe(true);
    expect(g.iterations).toBe(expected('gmm_em_iter')[0]);
    expect(g.lowerBound).toBeCloseTo(expected('gmm_em_lower_bound')[0]!, 9);
    expectClose(g.weights, expected('gmm_em_weights'), 1e-9);
    expectClose(g.means, expected('gmm_em_means'), 1e-9);
    expectClose(g.covariance, expected('gmm_em_cov'), 1e-9);
  });
});

describe('k-means (k-means++ + Lloyd)', () => {
  const blobs = (rng: Rng): Float64Array => {
    const centres = [
      [0, 0],
      [10, 0],
      [0, 10],
    ];
    return Float64Array.from({ length: 90 * 2 }, (_, i) => centres[Math.floor(i / 2) % 3]![i % 2]! + rng.normal(0, 0.5));
  };
  it('recovers well-separated clusters, and one seed gives one result', () => {
    const x = blobs(Rng.fromSeed(1));
    const a = kmeans(x, 90, 2, 3, Rng.fromSeed(5));
    // every sample's cluster is the one of the sample 3 positions earlier (same true centre)
    for (let i = 3; i < 90; i++) expect(a.labels[i]).toBe(a.labels[i - 3]);
    expect(new Set(a.labels).size).toBe(3);
    const b = kmeans(x, 90, 2, 3, Rng.fromSeed(5));
    expect(Array.from(b.centers)).toEqual(Array.from(a.centers));
    expect(() => kmeans(x, 90, 2, 91, Rng.fromSeed(5))).toThrow(/91 clusters for 90 samples/);
  });
});

describe('gmm', () => {
  it('agrees with OpenOOD’s path (sklearn PCA + GaussianMixture tied) where k-means finds the same partition', async () => {
    // four well-separated blobs: both k-means find the blobs, so EM starts from the same labels
    const train = featureSplit('gmm_train', chunk(expected('gmm_train'), ref.D));
    const test = chunk(expected('gmm_test'), ref.D);
    const layer = finalLayer(chunk(ref.weight, ref.D), ref.bias);
    for (const [key, pcaDim] of [
      ['gmm_k4_pca5', 5],
      ['gmm_k4_pca8', null],
    ] as const) {
      const pp = new GmmPostprocessor(gmmArgs, { num_clusters: 4, pca_dim: pcaDim }, Rng.fromSeed(3));
      const r = await fitAndScore(pp, { finalLayer: layer }, { train }, test);
      expectClose(r.conf, expected(key), 2e-5);
      expect(Array.from(r.pred)).toEqual(expected(`${key}_pred`));
      // the far-away half (broad noise) scores below every blob sample
      expect(Math.max(...r.conf.slice(20))).toBeLessThan(Math.min(...r.conf.slice(0, 20)));
      pp.dispose();
    }
  });
  it('one component: conf = log(exp(−½ (z−μ)ᵀΣ⁻¹(z−μ)) + 2^-149), floored far away', async () => {
    // 1-D train features ±1 around 3: μ = 3, Σ = 1 (+ reg_covar 1e-6)
    const train = featureSplit('train', [[2], [4], [2], [4]]);
    const pp = new GmmPostprocessor(gmmArgs, { num_clusters: 1, pca_dim: null }, Rng.fromSeed(0));
    const r = await fitAndScore(pp, { finalLayer: finalLayer([[1]], [0]) }, { train }, [[3], [5], [300]]);
    const v = 1 + 1e-6;
    expectClose(r.conf.slice(0, 2), [0, -2 / v], 1e-5);
    expect(r.conf[2]).toBeCloseTo(GMM_LOG_FLOOR, 4); // float32
    expect(pp.iterations).toBeGreaterThanOrEqual(1);
    pp.dispose();
  });
  it('the log-space density equals log(Σ w e^{−d/2} + 2^-149) computed directly', () => {
    const d = tf.tensor2d([
      [1, 4, 9],
      [200, 300, 250],
    ]);
    const w = [0.2, 0.5, 0.3];
    const logW = tf.tensor1d(w.map(Math.log));
    const got = gmmLogDensity(d as never, logW as never);
    const direct = [
      [1, 4, 9],
      [200, 300, 250],
    ].map((row) => Math.log(row.reduce((s, di, k) => s + w[k]! * Math.exp(-di / 2), 0) + 2 ** -149));
    expectClose(got.dataSync(), direct, 1e-6);
    tf.dispose([d, logW, got]);
  });
});
