import { initCompute, tf } from '@oodkit/compute';
import {
  createOodkitContainer,
  registryOf,
  Rng,
  silentLogger,
  type Batch,
  type BuildContext,
  type Classifier,
  type Postprocessor,
} from '@oodkit/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { adaScaleFactors, adascalePercentiles } from '../src/postprocessors/adascale.js';
import { postprocessorsModule } from '../src/module.js';
import { expectClose, expectGridInsideSchema, finalLayer } from './math-fixtures.js';
import { networkReference } from './network-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const ref = networkReference.adascale;
const [H, Wd, C] = ref.in_shape as [number, number, number];
const D = ref.a0.length as number;
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const ctx = { logger: silentLogger, rng: Rng.fromSeed(4), config: {}, registry } as unknown as BuildContext;

/** The fixture's network: z = softplus(flatten(x)·A + a0), logits = z·Wᵀ + b (x flattened NHWC). */
function softplusNet(): Classifier {
  const a = tf.tensor2d(ref.A, [H * Wd * C, D]);
  const a0 = tf.tensor1d(ref.a0);
  const w = tf.tensor2d(ref.W);
  const b = tf.tensor1d(ref.b);
  const features = (x: Tensor4D) => tf.softplus(tf.add(tf.matMul(tf.reshape(x, [x.shape[0], -1]) as Tensor2D, a), a0)) as Tensor2D;
  const head = (z: Tensor2D) => tf.add(tf.matMul(z, w, false, true), b) as Tensor2D;
  const unused = () => {
    throw new Error('unused');
  };
  return {
    name: 'softplus',
    inputShape: [H, Wd, C],
    numClasses: ref.W.length,
    featureDim: D,
    forward: (x) => tf.tidy(() => head(features(x))),
    forwardFeatures: (x) =>
      tf.tidy(() => {
        const z = features(x);
        return { logits: head(z), features: z };
      }),
    forwardBlocks: unused,
    forwardThreshold: unused,
    head,
    finalLayer: unused,
    trainableVariables: () => [],
    namedVariables: () => new Map(),
    dispose: () => tf.dispose([a, a0, w, b]),
  };
}

function* valBatches(): Generator<Batch> {
  const n = ref.val_x.length / (H * Wd * C);
  for (let s = 0; s < n; s += 7) {
    const m = Math.min(7, n - s);
    yield {
      x: tf.tensor4d(ref.val_x.slice(s * H * Wd * C, (s + m) * H * Wd * C), [m, H, Wd, C]),
      y: tf.zeros([m], 'int32'),
      indices: new Int32Array(m),
    };
  }
}

describe('adascale_a / adascale_l', () => {
  it.each([
    ['a', 'conf_a', 'pred_a'],
    ['l', 'conf_l', 'pred_l'],
  ])('adascale_%s agrees with OpenOOD run in torch (gradient perturbation, ECDF percentile, scaling)', async (variant, conf, pred) => {
    const net = softplusNet();
    const pp = await registry.build<Postprocessor>(
      'postprocessor',
      { name: `adascale_${variant}`, args: { ...ref.args, num_samples: 1000 } },
      ctx,
    );
    expect(pp.needsNetwork).toBe(true);
    const before = tf.memory().numTensors;
    await pp.setup(
      { finalLayer: finalLayer(ref.W, ref.b), network: net, setupInputs: (role) => (role === 'val' ? valBatches() : undefined) },
      {},
    );
    const inputs = tf.tensor4d(ref.test_x, [ref.test_x.length / (H * Wd * C), H, Wd, C]);
    const features = tf.zeros([inputs.shape[0], D]) as Tensor2D;
    const r = await pp.score({ features, inputs });
    expectClose(r.conf, ref[conf], 2e-4);
    expect(Array.from(r.pred)).toEqual(ref[pred]);
    tf.dispose([inputs, features]);
    pp.dispose?.();
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });

  it('ECDF percentiles and ada_scale factors by hand', () => {
    const reference = Float64Array.from([1, 2, 2, 5]);
    // ECDF(t) = share ≤ t: 0 → 0, 2 → 0.75, 9 → 1
    expect(Array.from(adascalePercentiles(Float64Array.from([0, 2, 9]), reference, [60, 80]))).toEqual([80, 65, 60]);
    // d = 4, p = 50: k = 4 − 2 = 2; relu(z) = [3, 0, 1, 2]: 6 / (3 + 2)
    // p = 60: 4·0.6 = 2.4 → round 2, k = 2 again; p = 62.5: 2.5 → half to even 2 → k = 2; p = 90: 3.6 → 4, k = 0 → ∞
    const z = Float32Array.from([3, -1, 1, 2]);
    expectClose(adaScaleFactors(z, 4, Float64Array.from([50])), [6 / 5]);
    expectClose(adaScaleFactors(z, 4, Float64Array.from([62.5])), [6 / 5]);
    expectClose(adaScaleFactors(Float32Array.from([3, -1, 1, 2]), 4, Float64Array.from([25])), [6 / 6]);
  });

  it("is registered with OpenOOD's sweep and refuses sources without val inputs", async () => {
    for (const name of ['adascale_a', 'adascale_l']) {
      expectGridInsideSchema(registry, name);
      expect(registry.get('postprocessor', name).grid?.percentile).toHaveLength(36);
      expect(registry.validate('postprocessor', { name, args: { percentile: [90, 80] } })[0]?.message).toMatch(/min ≤ max/);
    }
    const net = softplusNet();
    const pp = await registry.build<Postprocessor>('postprocessor', 'adascale_a', ctx);
    await expect(pp.setup({ finalLayer: finalLayer(ref.W, ref.b), network: net }, {})).rejects.toThrow(
      /adascale_a fits on the ID val inputs/,
    );
    await expect(pp.setup({ finalLayer: finalLayer(ref.W, ref.b) }, {})).rejects.toThrow(/needs the network/);
    net.dispose();
  });
});
