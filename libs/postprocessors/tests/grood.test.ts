import { initCompute, tf } from '@oodkit/compute';
import { createOodkitContainer, registryOf, Rng } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { groodArgs, GroodPostprocessor, noiseGradients } from '../src/postprocessors/grood.js';
import { expectClose, featureSplit, finalLayer, referenceScorer } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const { ref, model, data } = referenceScorer('breadth-methods-reference.json', registry);
const oodVal = featureSplit(
  'oodval',
  Array.from({ length: ref.expected['grood_ood_val']!.length / ref.D }, (_, i) =>
    ref.expected['grood_ood_val']!.slice(i * ref.D, (i + 1) * ref.D),
  ),
  new Array(50).fill(-1),
);
const make = (args: Record<string, unknown>) => new GroodPostprocessor(groodArgs, groodArgs.parse(args), Rng.fromSeed(0));

async function scoreTest(pp: GroodPostprocessor) {
  const features = tf.tensor2d(ref.test, [ref.test.length / ref.D, ref.D]);
  try {
    return await pp.score({ features });
  } finally {
    features.dispose();
  }
}

describe('grood', () => {
  it('agrees with a torch-autograd port of OpenOOD’s default path (sampling_ratio 1, OOD val noise prototype)', async () => {
    for (const n of [10, 50]) {
      const pp = make({ n_noise_samples: n });
      expect(pp.requires).toEqual(['train', 'ood_val']);
      await pp.setup(model, { ...data, ood_val: oodVal });
      const r = await scoreTest(pp);
      expectClose(r.conf, ref.expected[`grood_n${n}`]!, 1e-6);
      expect(Array.from(r.pred)).toEqual(ref.expected['grood_pred']);
      pp.dispose();
    }
  });
  it('the closed-form gradient is p_noise·(z − P_noise)/‖z − P_noise‖ (checked against tf autodiff)', () => {
    const z = tf.tensor2d([
      [1, 2],
      [-1, 0.5],
    ]);
    const protos = tf.tensor2d([
      [1, 1],
      [0, -1],
      [3, 0],
    ]);
    const closed = noiseGradients(z, protos);
    for (let i = 0; i < 2; i++) {
      const zi = z.slice([i, 0], [1, 2]);
      const classes = protos.slice([0, 0], [2, 2]);
      const y = tf.tidy(() => tf.argMax(tf.neg(tf.sum(tf.square(tf.sub(zi, classes)), 1))).dataSync()[0]!);
      const grad = tf.grad((noise: tf.Tensor) => {
        const all = tf.concat([classes, noise.reshape([1, 2])], 0);
        const ncc = tf.neg(tf.sqrt(tf.sum(tf.square(tf.sub(zi, all)), 1)));
        return tf.neg(tf.logSoftmax(ncc).gather([y]).reshape([]));
      })(protos.slice([2, 0], [1, 2]).reshape([2]));
      expectClose(grad.dataSync(), closed.slice([i, 0], [1, 2]).dataSync(), 1e-5);
      tf.dispose([zi, classes, grad]);
    }
    tf.dispose([z, protos, closed]);
  });
  it('sampling_ratio picks a seeded subset; zero / prototype-mean noise need no OOD data; missing OOD val is a clear error', async () => {
    const full = make({ noise: 'zero' });
    expect(full.requires).toEqual(['train']);
    await full.setup(model, data);
    const small = make({ noise: 'zero', sampling_ratio: 0.25 });
    await small.setup(model, data);
    expect(small.bankSize).toBeLessThanOrEqual(40);
    expect(small.bankSize).toBeLessThan(full.bankSize);
    const again = make({ noise: 'zero', sampling_ratio: 0.25 });
    await again.setup(model, data);
    expect(Array.from((await scoreTest(again)).conf)).toEqual(Array.from((await scoreTest(small)).conf));
    const mean = make({ noise: 'prototype_mean' });
    await mean.setup(model, data);
    expect((await scoreTest(mean)).conf.every(Number.isFinite)).toBe(true);
    await expect(full.setHyperparameters({ noise: 'ood_val' })).rejects.toThrow(/needs the OOD validation split/);
    for (const pp of [full, small, again, mean]) pp.dispose();
    await expect(make({}).setup({ finalLayer: finalLayer([[1]], [0]) }, { train: featureSplit('t', [[1]], [0]) })).rejects.toThrow(
      /OOD validation split/,
    );
  });
});
