import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradnormDefinition, GradnormPostprocessor } from '../src/postprocessors/gradnorm.js';
import { gaussianRows, layer, randomLayer } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('gradnorm', () => {
  it('hand cases: uniform softmax gives 0; p = (¾, ¼) gives ‖z‖₁', async () => {
    const pp = new GradnormPostprocessor(gradnormDefinition.args, {});
    await pp.setup({ finalLayer: layer([0, 0, 0, 0], [Math.log(3), 0], 2, 2) }, {});
    const q = tf.tensor2d([1, -2, 0.5, 0.25], [2, 2]);
    const r = await pp.score({ features: q });
    // Σ|1 − 2p| = |1 − 1.5| + |1 − 0.5| = 1
    expect(r.conf[0]).toBeCloseTo(3, 6);
    expect(r.conf[1]).toBeCloseTo(0.75, 6);
    await pp.setup({ finalLayer: layer([0, 0, 0, 0], [0, 0], 2, 2) }, {});
    expect((await pp.score({ features: q })).conf[0]).toBeCloseTo(0, 6);
    q.dispose();
    pp.dispose();
  });

  it('equals the L1 norm of the autodiff gradient of −Σ log softmax w.r.t. W (OpenOOD per-sample backward)', async () => {
    const rng = Rng.fromSeed(21);
    const c = 4;
    const d = 6;
    const fl = randomLayer(rng, c, d);
    const feats = gaussianRows(rng.derive('z'), 5, d, 0.3, 1.2);
    const pp = new GradnormPostprocessor(gradnormDefinition.args, {});
    await pp.setup({ finalLayer: fl }, {});
    const q = tf.tensor2d(feats, [5, d]);
    const r = await pp.score({ features: q });
    const w = tf.tensor2d(fl.weight, [c, d]);
    const b = tf.tensor1d(fl.bias);
    for (let i = 0; i < 5; i++) {
      const zi = tf.tensor2d(feats.subarray(i * d, (i + 1) * d), [1, d]);
      const grad = tf.grad((wt: tf.Tensor) => tf.neg(tf.sum(tf.logSoftmax(tf.add(tf.matMul(zi, wt as Tensor2D, false, true), b)))));
      const g = grad(w);
      const l1 = tf.sum(tf.abs(g)).dataSync()[0];
      expect(r.conf[i]).toBeCloseTo(l1, 4);
      for (const t of [zi, g]) t.dispose();
    }
    for (const t of [q, w, b]) t.dispose();
    pp.dispose();
  });
});
