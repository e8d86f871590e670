import { initCompute, tf } from '@oodkit/compute';
import { createOodkitContainer, registryOf, Rng, silentLogger, type FeatureSplit, type Postprocessor } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { classSignalSplit, expectGridInsideSchema } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const FEATURE_METHODS = ['vim', 'knn', 'she', 'gradnorm', 'openmax', 'relation', 'nnguide', 'fdbd', 'nci', 'vra', 'residual'];
const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };

const splitOf = (name: string, rng: Rng, n: number, d: number, c: number): FeatureSplit => classSignalSplit(name, rng, n, d, c, 3);

describe('registered postprocessors (feature-space methods)', () => {
  const registry = registryOf(createOodkitContainer([postprocessorsModule]));

  it('are all registered with valid defaults and grids inside their schemas', () => {
    for (const name of FEATURE_METHODS) {
      expectGridInsideSchema(registry, name);
      expect(registry.validate('postprocessor', { name, args: { nope: 1 } })[0]?.message).toMatch(/unknown key 'nope'/);
    }
  });

  it('each fits on features only, walks its whole (adapted) grid and scores finite values without leaking tensors', async () => {
    const rng = Rng.fromSeed(17);
    const c = 3;
    const d = 9;
    // W aligned with the class signal so every class has correctly classified train samples (SHE, OpenMax).
    const weight = Float32Array.from({ length: c * d }, (_, i) => ((i % d) % c === Math.floor(i / d) ? 1 : 0));
    const model = { finalLayer: { numClasses: c, featureDim: d, weight, bias: Float32Array.from([0.1, 0, -0.1]) } };
    const data = { train: splitOf('train', rng.derive('train'), 60, d, c), val: splitOf('val', rng.derive('val'), 15, d, c) };
    const test = splitOf('test', rng.derive('test'), 8, d, c);
    for (const name of FEATURE_METHODS) {
      const pp = await registry.build<Postprocessor>('postprocessor', name, ctx);
      expect(pp.name).toBe(name);
      expect(pp.needsNetwork).toBe(false);
      const before = tf.memory().numTensors;
      await pp.setup(model, data);
      const defGrid = registry.get('postprocessor', name).grid ?? {};
      const grid = (pp.searchGrid?.(defGrid) ?? defGrid) as Record<string, unknown[]>;
      const combos = Object.entries(grid).reduce<Record<string, unknown>[]>(
        (acc, [k, vs]) => vs.flatMap((v) => acc.map((a) => ({ ...a, [k]: v }))),
        [{}],
      );
      const features = tf.tensor2d(test.features, [test.count, d]);
      for (const combo of combos) {
        await pp.setHyperparameters(combo);
        expect(pp.hyperparameters()).toMatchObject(combo);
        const r = await pp.score({ features });
        expect(r.conf.length).toBe(test.count);
        for (const v of r.conf) expect(Number.isFinite(v), `${name} ${JSON.stringify(combo)}`).toBe(true);
        // OpenMax may predict the unknown class C (OpenOOD's argmax over C + 1 probabilities).
        for (const p of r.pred) expect(p >= 0 && p <= (name === 'openmax' ? c : c - 1)).toBe(true);
      }
      features.dispose();
      pp.dispose?.();
      expect(tf.memory().numTensors, `${name} leaked tensors`).toBe(before);
    }
  });
});
