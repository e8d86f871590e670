import { initCompute, tf } from '@oodkit/compute';
import { createOodkitContainer, registryOf, Rng, silentLogger, type Postprocessor } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { classSignalSplit, expectGridInsideSchema } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/** The detectors added from pytorch-ood and OpenOOD's later methods that run on features. */
const BREADTH_FEATURE_METHODS = ['entropy', 'weighted_ebo', 'lts', 'caref', 'cadref', 'pnml', 'gmm', 'mc_dropout', 'grood'];
const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };

/** Every point of a grid, first key fastest (the order APS walks it in). */
function combinations(grid: Record<string, readonly unknown[]>): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) out = values.flatMap((v) => out.map((o) => ({ ...o, [key]: v })));
  return out;
}

describe('registered postprocessors (pytorch-ood detectors and later OpenOOD methods)', () => {
  const registry = registryOf(createOodkitContainer([postprocessorsModule]));

  it('are registered with valid defaults, grids inside their schemas, unknown args rejected', () => {
    for (const name of BREADTH_FEATURE_METHODS) {
      expectGridInsideSchema(registry, name);
      expect(registry.validate('postprocessor', { name, args: { nope: 1 } })[0]?.message).toMatch(/unknown key 'nope'/);
    }
  });

  it('each fits on features only, walks its grid and scores finite values without leaking tensors', async () => {
    const rng = Rng.fromSeed(23);
    const c = 3;
    const d = 9;
    const weight = Float32Array.from({ length: c * d }, (_, i) => ((i % d) % c === Math.floor(i / d) ? 1 : 0));
    const model = { finalLayer: { numClasses: c, featureDim: d, weight, bias: Float32Array.from([0.1, 0, -0.1]) } };
    const data = {
      train: classSignalSplit('train', rng.derive('train'), 60, d, c, 3),
      val: classSignalSplit('val', rng.derive('val'), 15, d, c, 3),
      ood_val: classSignalSplit('oodval', rng.derive('oodval'), 12, d, c, 0.5),
    };
    const test = classSignalSplit('test', rng.derive('test'), 8, d, c, 3);
    for (const name of BREADTH_FEATURE_METHODS) {
      const pp = await registry.build<Postprocessor>('postprocessor', name, ctx);
      expect(pp.needsNetwork, name).toBe(false);
      const before = tf.memory().numTensors;
      await pp.setup(model, data);
      const defGrid = registry.get('postprocessor', name).grid ?? {};
      const features = tf.tensor2d(test.features, [test.count, d]);
      for (const combo of combinations((pp.searchGrid?.(defGrid) ?? defGrid) as Record<string, unknown[]>)) {
        await pp.setHyperparameters(combo);
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
