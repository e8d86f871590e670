import { initCompute, tf } from '@oodkit/compute';
import { createOodkitContainer, registryOf, Rng, silentLogger, type BuildContext, type Classifier, type Postprocessor } from '@oodkit/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { nacArgs, NacCoverage, NacPostprocessor, nacStageSignals, nacSubset, nacThresholds } from '../src/postprocessors/nac.js';
import { expectClose, expectGridInsideSchema, finalLayer } from './math-fixtures.js';
import { networkReference } from './network-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const ref = networkReference.nac;
const D = ref.W[0].length as number;
const C = ref.W.length as number;
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const ctx = { logger: silentLogger, rng: Rng.fromSeed(2), config: {}, registry } as unknown as BuildContext;
const layer = { O: ref.args.O, M: ref.args.M, sig_alpha: ref.args.sig_alpha, method: 'sigmoid(o*g_kl)' };

describe('nac', () => {
  it("thresholds are ood_coverage's logspace(1e3, M)", () => {
    expectClose(nacThresholds(ref.args.M), ref.thresholds, 1e-12);
    expect(Array.from(nacThresholds(2))).toEqual([1.01, 1.2]);
  });

  it('agrees with the reference (autograd KL gradient, state histogram, coverage) on feature rows', async () => {
    const train = ref.train_labels.length as number;
    const pp = await registry.build<Postprocessor>('postprocessor', { name: 'nac', args: { valid_num: 10_000, avgpool: layer } }, ctx);
    expect(pp.needsNetwork).toBe(false);
    const split = {
      name: 'train',
      count: train,
      dim: D,
      features: Float32Array.from(ref.train),
      labels: Int32Array.from(ref.train_labels),
    };
    const before = tf.memory().numTensors;
    await pp.setup({ finalLayer: finalLayer(ref.W, ref.b) }, { train: split });
    const features = tf.tensor2d(ref.test, [ref.test.length / D, D]);
    const r = await pp.score({ features });
    expectClose(r.conf, ref.conf, 1e-6);
    expect(Array.from(r.pred)).toEqual(ref.pred);
    // O is re-derived without a refit: at O = 1 every visited interval is fully covered
    await pp.setHyperparameters({ avgpool: { ...layer, O: 1 } });
    const r1 = await pp.score({ features });
    for (let i = 0; i < r1.conf.length; i++) expect(r1.conf[i]).toBeGreaterThanOrEqual(r.conf[i]! - 1e-12);
    features.dispose();
    pp.dispose?.();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('coverage by hand: counts/O capped at 1, 0 outside the thresholds', () => {
    // M = 2: one interval [1.01, 1.2); neuron 0 visited twice, neuron 1 never
    const cov = new NacCoverage(Float64Array.from([1.1, 0.5, 1.05, 0.3]), 2, { O: 4, M: 2, sig_alpha: 1, method: 'o' });
    // sample (1.1, 1.1): (2/4 + 0)/2; sample (0.2, 1.19): 0
    expectClose(cov.score(Float64Array.from([1.1, 1.1, 0.2, 1.19])), [0.25, 0]);
  });

  it('takes a class-balanced subset: min(⌊valid_num/classes⌋, smallest class) per class, seeded', () => {
    const labels = Int32Array.from({ length: 30 }, (_, i) => (i < 20 ? 0 : 1)); // 20 and 10 rows
    const s = nacSubset(labels, 8, Rng.fromSeed(1));
    expect([0, 1].map((c) => Array.from(s).filter((r) => labels[r] === c).length)).toEqual([4, 4]);
    const all = nacSubset(labels, 1000, Rng.fromSeed(1));
    expect([0, 1].map((c) => Array.from(all).filter((r) => labels[r] === c).length)).toEqual([10, 10]);
    expect(Array.from(nacSubset(labels, 8, Rng.fromSeed(1)))).toEqual(Array.from(s));
  });

  it('stage signals: o and g are the spatial sums of the stage output and of ∂KL/∂output (by hand)', () => {
    // stage 3 of a toy network: h = x (1×2×2×1 map); logits = [Σh, −Σh]
    const net = {
      stageOutput: (x: Tensor4D) => tf.clone(x),
      forwardFromStage: (_s: number, h: Tensor4D) =>
        tf.tidy(() => {
          const s = tf.sum(h, [1, 2, 3]);
          return tf.stack([s, tf.neg(s)], 1) as Tensor2D;
        }),
    } as unknown as Classifier;
    const x = tf.tensor4d([0.5, -1, 2, 0.25], [1, 2, 2, 1]);
    const { o, g } = nacStageSignals(net, x, 3);
    const sum = 1.75;
    const p0 = 1 / (1 + Math.exp(-2 * sum));
    // L = −½(log p0 + log p1); ∂L/∂ℓ = p − ½; ∂ℓ0/∂h = 1, ∂ℓ1/∂h = −1 for every element → g = 4·((p0 − ½) − (p1 − ½))
    expectClose(o.dataSync(), [sum]);
    expectClose(g.dataSync(), [4 * (p0 - (1 - p0))], 1e-6);
    tf.dispose([x, o, g]);
  });

  it('stage layers: fitted from the subset rows of the train inputs, scored as the pure path', async () => {
    // a staged network on 1×1×2 inputs: stage 3 = x, logits = W·relu(h) + b; z = relu(x)
    const W = [
      [1, -0.5],
      [-1, 2],
    ];
    const B = [0.1, -0.1];
    const w = tf.tensor2d(W);
    const b = tf.tensor1d(B);
    const fromStage = (_s: number, h: Tensor4D) =>
      tf.tidy(() => tf.add(tf.matMul(tf.relu(tf.reshape(h, [h.shape[0], 2])) as Tensor2D, w, false, true), b) as Tensor2D);
    const net = {
      name: 'staged',
      stageOutput: (x: Tensor4D) => tf.clone(x),
      forwardFromStage: fromStage,
    } as unknown as Classifier;
    const rows = 24;
    const xs = Array.from({ length: rows * 2 }, (_, i) => Math.sin(i * 1.7) * 2);
    const labels = Array.from({ length: rows }, (_, i) => i % 2);
    const settings = { O: 2, M: 10, sig_alpha: 5, method: 'sigmoid(o*g_kl)' as const };
    const pp = new NacPostprocessor(nacArgs, nacArgs.parse({ layers: ['layer3'], valid_num: 12, layer3: settings }), ctx);
    const split = {
      name: 'train',
      count: rows,
      dim: 2,
      features: Float32Array.from(xs, (v) => Math.max(0, v)),
      labels: Int32Array.from(labels),
    };
    function* batches() {
      for (let s = 0; s < rows; s += 5) {
        const n = Math.min(5, rows - s);
        yield {
          x: tf.tensor4d(xs.slice(2 * s, 2 * (s + n)), [n, 1, 1, 2]),
          y: tf.tensor1d(labels.slice(s, s + n), 'int32'),
          indices: new Int32Array(n),
        };
      }
    }
    await pp.setup({ finalLayer: finalLayer(W, B), network: net, setupInputs: () => batches() }, { train: split });
    const test = [0.3, -1, 2, 0.5, -0.2, -0.4];
    const inputs = tf.tensor4d(test, [3, 1, 1, 2]);
    const features = tf.relu(tf.reshape(inputs, [3, 2])) as Tensor2D;
    const r = await pp.score({ features, inputs });
    // the pure path on the same subset (the postprocessor's stream: rng 'subset')
    const subset = nacSubset(Int32Array.from(labels), 12, Rng.fromSeed(2).derive('subset'));
    const sub = tf.tensor4d(
      Array.from(subset).flatMap((r) => xs.slice(2 * r, 2 * r + 2)),
      [subset.length, 1, 1, 2],
    );
    const states = (x: Tensor4D) => {
      const { o, g } = nacStageSignals(net, x, 3);
      const out = Float64Array.from(o.dataSync(), (v, i) => 1 / (1 + Math.exp(-5 * v * g.dataSync()[i]!)));
      tf.dispose([o, g]);
      return out;
    };
    const cov = new NacCoverage(states(sub), 2, settings);
    expectClose(r.conf, cov.score(states(inputs)), 1e-6);
    expect(Math.max(...r.conf)).toBeGreaterThan(0);
    tf.dispose([inputs, features, sub, w, b]);
    pp.dispose();
  });

  it("is registered with the reference's avgpool sweep; stage layers need the network", async () => {
    expectGridInsideSchema(registry, 'nac');
    expect(registry.validate('postprocessor', { name: 'nac', args: { avgpool: { M: 7 } } })[0]?.message).toMatch(/even number/);
    const pp = new NacPostprocessor(nacArgs, nacArgs.parse({ layers: ['avgpool', 'layer3'] }), ctx);
    expect(pp.needsNetwork).toBe(true);
    const split = { name: 'train', count: 3, dim: D, features: new Float32Array(3 * D), labels: Int32Array.from([0, 1, 2]) };
    await expect(pp.setup({ finalLayer: finalLayer(ref.W, ref.b) }, { train: split })).rejects.toThrow(/nac needs the network/);
    expect(C).toBe(3);
  });
});
