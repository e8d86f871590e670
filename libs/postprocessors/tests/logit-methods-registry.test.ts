import { initCompute, tf } from '@oodkit/compute';
import { createOodkitContainer, registryOf, Rng, silentLogger, type FeatureSplit, type Postprocessor } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { classSignalSplit, expectGridInsideSchema, finalLayer } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const LOGIT_METHODS = ['msp', 'temp_scaling', 'odin', 'ebo', 'mls', 'klm', 'gen', 'mds', 'rmds', 'react', 'ash', 'scale', 'dice'];
const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };

const splitOf = (name: string, rng: Rng, n: number, d: number, c: number): FeatureSplit => classSignalSplit(name, rng, n, d, c, 2);

describe('registered postprocessors (logit and activation methods)', () => {
  const registry = registryOf(createOodkitContainer([postprocessorsModule]));

  it('are all registered with valid defaults and grids inside their schemas', () => {
    for (const name of LOGIT_METHODS) {
      expectGridInsideSchema(registry, name);
    }
  });

  it('every feature-mode method fits, walks its whole grid and scores finite values without leaking tensors', async () => {
    const rng = Rng.fromSeed(7);
    const c = 3;
    const d = 6;
    const w = Array.from({ length: c }, () => Array.from({ length: d }, () => rng.normal(0, 1)));
    const model = { finalLayer: finalLayer(w, [0.1, 0, -0.1]) };
    const data = { train: splitOf('train', rng.derive('train'), 30, d, c), val: splitOf('val', rng.derive('val'), 15, d, c) };
    const test = splitOf('test', rng.derive('test'), 8, d, c);
    for (const name of LOGIT_METHODS.filter((m) => m !== 'odin')) {
      const pp = await registry.build<Postprocessor>('postprocessor', name, ctx);
      expect(pp.name).toBe(name);
      expect(pp.needsNetwork).toBe(false);
      const before = tf.memory().numTensors;
      await pp.setup(model, data);
      const grid = (pp.searchGrid?.(registry.get('postprocessor', name).grid ?? {}) ??
        registry.get('postprocessor', name).grid ??
        {}) as Record<string, unknown[]>;
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
        for (const p of r.pred) expect(p >= 0 && p < c).toBe(true);
      }
      features.dispose();
      pp.dispose?.();
      expect(tf.memory().numTensors, `${name} leaked tensors`).toBe(before);
    }
  });
});
