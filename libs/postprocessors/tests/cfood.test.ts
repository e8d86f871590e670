import { initCompute, tf } from '@oodkit/compute';
import { createOodkitContainer, registryOf, Rng, silentLogger, type BuildContext, type Postprocessor } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { cfoodRanks } from '../src/postprocessors/cfood.js';
import { expectClose, expectGridInsideSchema, finalLayer } from './math-fixtures.js';
import { networkReference } from './network-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const ref = networkReference.cfood;
const D = ref.dim as number;
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const ctx = { logger: silentLogger, rng: Rng.fromSeed(5), config: {}, registry } as unknown as BuildContext;
const W = [
  [1, 0, 0, 0, 0, 0],
  [0, 1, 0, 0, 0, 0],
];

describe('cfood', () => {
  it("keeps OpenOOD's κ grid positions: int(κ·n − 1), strictly increasing", () => {
    const { fractions, ranks } = cfoodRanks(ref.train.length / D);
    expectClose(fractions, ref.kval, 1e-12);
    for (let j = 1; j < ranks.length; j++) expect(ranks[j]).toBeGreaterThan(ranks[j - 1]!);
    expect(cfoodRanks(10).ranks[0]).toBe(0); // int(0.001·10 − 1) = int(−0.99) = 0
  });

  it.each(['0.001', '0.01', '0.05', '0.2'])('agrees with the torch reference at k = %s (alpha = 1)', async (k) => {
    const count = ref.train.length / D;
    const pp = await registry.build<Postprocessor>('postprocessor', { name: 'cfood', args: { alpha: 1, k: Number(k) } }, ctx);
    const train = { name: 'train', count, dim: D, features: Float32Array.from(ref.train), labels: new Int32Array(count) };
    const before = tf.memory().numTensors;
    await pp.setup({ finalLayer: finalLayer(W, [0, 0]) }, { train });
    const features = tf.tensor2d(ref.test, [ref.test.length / D, D]);
    const r = await pp.score({ features });
    expectClose(r.conf, ref.conf[k], 1e-9);
    const rows = ref.test.length / D;
    expect(Array.from(r.pred)).toEqual(Array.from({ length: rows }, (_, i) => (ref.test[i * D + 1] > ref.test[i * D] ? 1 : 0)));
    features.dispose();
    pp.dispose?.();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('alpha subsamples the reference (seeded) and is re-derived on change', async () => {
    expectGridInsideSchema(registry, 'cfood');
    const count = ref.train.length / D;
    const pp = await registry.build<Postprocessor>('postprocessor', { name: 'cfood', args: { alpha: 0.5 } }, ctx);
    const train = { name: 'train', count, dim: D, features: Float32Array.from(ref.train), labels: new Int32Array(count) };
    await pp.setup({ finalLayer: finalLayer(W, [0, 0]) }, { train });
    const features = tf.tensor2d(ref.test, [ref.test.length / D, D]);
    const half = await pp.score({ features });
    await pp.setHyperparameters({ alpha: 1, k: 0.01 });
    expectClose((await pp.score({ features })).conf, ref.conf['0.01'], 1e-9);
    await pp.setHyperparameters({ alpha: 0.5 });
    expect(Array.from((await pp.score({ features })).conf)).toEqual(Array.from(half.conf));
    features.dispose();
    pp.dispose?.();
  });
});
