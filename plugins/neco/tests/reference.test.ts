import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initCompute, tf } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { fitNeco, necoDefinition, NecoPostprocessor } from '../src/index.js';

interface Reference {
  C: number;
  D: number;
  weight: number[];
  bias: number[];
  train: number[];
  test: number[];
  explained_variance: number[];
  expected: { dim: number; max_logit: boolean; conf: number[] }[];
}

/** Written by fixtures/neco_reference.py: sklearn StandardScaler + PCA, as the official NECO code. */
const ref = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'neco-reference.json'), 'utf8')) as Reference;

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('neco agrees with the sklearn reference (official code path)', () => {
  it('PCA spectrum: eigenvalues of the correlation matrix = sklearn explained_variance_ · (N − 1)/N', () => {
    const n = ref.train.length / ref.D;
    const { eigen } = fitNeco(Float32Array.from(ref.train), n, ref.D);
    // sklearn's PCA divides by N − 1, the scaler's σ by N; eigenvalues ascend here, descend there.
    const ours = Array.from(eigen.values).reverse();
    ref.explained_variance.forEach((v, k) => expect(ours[k]).toBeCloseTo((v * (n - 1)) / n, 8));
  });

  it('scores for every dim, with and without the max-logit factor', async () => {
    const n = ref.train.length / ref.D;
    const finalLayer = { numClasses: ref.C, featureDim: ref.D, weight: Float32Array.from(ref.weight), bias: Float32Array.from(ref.bias) };
    const pp = new NecoPostprocessor(necoDefinition.args, necoDefinition.args.parse({}));
    await pp.setup(
      { finalLayer },
      { train: { name: 'train', count: n, dim: ref.D, features: Float32Array.from(ref.train), labels: new Int32Array(n) } },
    );
    const q = tf.tensor2d(ref.test, [ref.test.length / ref.D, ref.D], 'float32');
    for (const { dim, max_logit, conf } of ref.expected) {
      await pp.setHyperparameters({ dim, max_logit });
      const r = await pp.score({ features: q });
      conf.forEach((c, i) => expect(r.conf[i], `dim ${dim}, max_logit ${max_logit}, row ${i}`).toBeCloseTo(c, 4));
    }
    q.dispose();
    pp.dispose();
  });
});
