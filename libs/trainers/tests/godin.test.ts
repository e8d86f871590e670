import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, UsageError, createOodkitContainer, registryOf, silentLogger, type Classifier, type Trainer } from '@oodkit/core';
import { GodinNet, networksModule, type GodinSimilarity } from '@oodkit/networks';
import { trainersModule } from '../src/index.js';

// Values from libs/trainers/tools/godin_reference.py (PyTorch, float64), replayed on the cpu backend.
interface Case {
  numerators: number[][];
  denominators_eval: number[][];
  quotients_eval: number[][];
  denominators_train: number[][];
  loss: number;
  after_step: Record<string, number[] | number[][]>;
  running_mean: number[];
  running_var: number[];
}
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'godin-reference.json'), 'utf8')) as {
  shape: [number, number, number, number];
  feature_dim: number;
  num_classes: number;
  x: number[];
  y: number[];
  params: Record<string, number[]>;
  buffers: Record<string, number[]>;
  optimizer: { lr: number; momentum: number; weight_decay: number };
  cases: Record<GodinSimilarity, Case>;
};

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const registry = registryOf(createOodkitContainer([networksModule, trainersModule]));
const ctx = (stream: string) => ({ logger: silentLogger, rng: Rng.fromSeed(0).derive(stream), config: {} });

/** z = relu(flatten(x)·Aᵀ + a): the fixture's backbone (its own final layer exists but is unused, as OpenOOD's Identity fc). */
class TinyBackbone implements Classifier {
  readonly name = 'tiny';
  readonly inputShape: [number, number, number];
  readonly numClasses = fixture.num_classes;
  readonly featureDim = fixture.feature_dim;
  private readonly vars = new Map<string, tf.Variable>();

  constructor() {
    const [, h, w, c] = fixture.shape;
    this.inputShape = [h, w, c];
    this.vars.set('fc1.weight', tf.variable(tf.tensor2d(fixture.params['backbone.fc1.weight'], [this.featureDim, h * w * c])));
    this.vars.set('fc1.bias', tf.variable(tf.tensor1d(fixture.params['backbone.fc1.bias'])));
    this.vars.set('fc.weight', tf.variable(tf.zeros([this.numClasses, this.featureDim])));
  }
  private z(x: tf.Tensor4D): tf.Tensor2D {
    return tf.relu(
      tf.add(tf.matMul(tf.reshape(x, [x.shape[0], -1]), this.vars.get('fc1.weight')!, false, true), this.vars.get('fc1.bias')!),
    ) as tf.Tensor2D;
  }
  forward(x: tf.Tensor4D): tf.Tensor2D {
    return this.head(this.z(x));
  }
  forwardFeatures(x: tf.Tensor4D): { logits: tf.Tensor2D; features: tf.Tensor2D } {
    const features = this.z(x);
    return { logits: this.head(features), features };
  }
  forwardBlocks(x: tf.Tensor4D) {
    const { logits, features } = this.forwardFeatures(x);
    return { logits, features, blocks: [] };
  }
  forwardThreshold(x: tf.Tensor4D, t: number): tf.Tensor2D {
    return this.head(tf.minimum(this.z(x), t));
  }
  head(features: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(features, this.vars.get('fc.weight')!, false, true);
  }
  finalLayer() {
    return { weight: tf.clone(this.vars.get('fc.weight')!) as tf.Tensor2D, bias: tf.zeros([this.numClasses]) as tf.Tensor1D };
  }
  trainableVariables(): tf.Variable[] {
    return [...this.vars.values()];
  }
  namedVariables(): ReadonlyMap<string, tf.Variable> {
    return this.vars;
  }
  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
  }
}

function fixtureNet(similarity: GodinSimilarity): GodinNet {
  const net = new GodinNet(new TinyBackbone(), similarity, Rng.fromSeed(1));
  const vars = net.namedVariables();
  for (const [name, values] of Object.entries({ ...fixture.params, ...fixture.buffers })) {
    const v = vars.get(name);
    if (!v) continue; // h.h.bias exists for `inner` only
    v.assign(tf.tensor(values, v.shape));
  }
  return net;
}

const close = (actual: tf.Tensor, expected: number[] | number[][], tol = 2e-5) => {
  const a = Array.from(actual.dataSync());
  const e = expected.flat();
  expect(a.length).toBe(e.length);
  a.forEach((v, i) => expect(Math.abs(v - e[i]), `index ${i}: ${v} vs ${e[i]}`).toBeLessThan(tol * Math.max(1, Math.abs(e[i]))));
};

describe('godin_net (h/g decomposition) against PyTorch', () => {
  for (const similarity of ['cosine', 'inner', 'euclid'] as const) {
    it(`${similarity}: h, g and h/g in eval mode; finalLayer keeps h's argmax and (inner, euclid) its softmax`, () => {
      const net = fixtureNet(similarity);
      const expected = fixture.cases[similarity];
      const x = tf.tensor4d(fixture.x, fixture.shape);
      const before = tf.memory().numTensors;
      const { numerators, denominators } = net.forwardDecomposed(x, false);
      close(numerators, expected.numerators);
      close(denominators, expected.denominators_eval);
      const logits = net.forward(x, false);
      close(logits, expected.quotients_eval);
      const { features, logits: again } = net.forwardFeatures(x, false);
      close(again, expected.quotients_eval);
      again.dispose();
      const headed = net.head(features);
      close(headed, expected.quotients_eval);
      headed.dispose();
      const { weight, bias } = net.finalLayer();
      tf.dispose([logits, denominators]);
      expect(tf.memory().numTensors).toBe(before + 4); // only what the caller holds: h, z, W, b
      tf.tidy(() => {
        const linear = tf.add(tf.matMul(features, weight, false, true), bias) as tf.Tensor2D;
        expect(Array.from(tf.argMax(linear, 1).dataSync())).toEqual(Array.from(tf.argMax(numerators, 1).dataSync()));
        if (similarity !== 'cosine') close(tf.softmax(linear), tf.softmax(numerators).arraySync() as number[][], 1e-5);
      });
      tf.dispose([numerators, features, weight, bias]);
      x.dispose();
      net.dispose();
    });

    it(`${similarity}: one godin step = PyTorch SGD with no weight decay on h, BN running stats updated`, async () => {
      const net = fixtureNet(similarity);
      const expected = fixture.cases[similarity];
      const { lr, momentum, weight_decay } = fixture.optimizer;
      const trainer = await registry.build<Trainer>('trainer', { name: 'godin', args: { lr, momentum, weight_decay } }, ctx('trainer'));
      trainer.init(net, { epochs: 1, stepsPerEpoch: 10 });
      const batch = {
        x: tf.tensor4d(fixture.x, fixture.shape),
        y: tf.tensor1d(fixture.y, 'int32'),
        indices: Int32Array.from(fixture.y.keys()),
      };
      const { loss } = await trainer.step(batch);
      expect(loss).toBeCloseTo(expected.loss, 5);
      const vars = net.namedVariables();
      for (const [name, values] of Object.entries(expected.after_step)) close(vars.get(name)!, values as number[]);
      close(vars.get('g.1.running_mean')!, expected.running_mean);
      close(vars.get('g.1.running_var')!, expected.running_var);
      // the backbone's unused final layer gets no gradient and is not stepped (PyTorch skips grad-less parameters)
      expect(Array.from(vars.get('backbone.fc.weight')!.dataSync()).every((v) => v === 0)).toBe(true);
      tf.dispose([batch.x, batch.y]);
      net.dispose();
    });
  }

  it('weight decay really is off for h only: with decay 0.5 the h step differs from a decayed one, the g step does not', async () => {
    const run = async (trainerName: string) => {
      const net = fixtureNet('inner');
      const trainer = await registry.build<Trainer>('trainer', { name: trainerName, args: { weight_decay: 0.5 } }, ctx('trainer'));
      trainer.init(net, { epochs: 1, stepsPerEpoch: 10 });
      const batch = { x: tf.tensor4d(fixture.x, fixture.shape), y: tf.tensor1d(fixture.y, 'int32'), indices: new Int32Array(6) };
      await trainer.step(batch);
      const out = Object.fromEntries(['h.h.weight', 'g.0.weight'].map((n) => [n, Array.from(net.namedVariables().get(n)!.dataSync())]));
      tf.dispose([batch.x, batch.y]);
      net.dispose();
      return out;
    };
    const godin = await run('godin');
    const base = await run('base'); // same loss (CE on h/g), decay on everything
    // h: base − godin = lr·(1+μ)·wd·p₀ exactly
    const p0 = fixture.params['h.h.weight'];
    godin['h.h.weight'].forEach((v, i) => expect(v - base['h.h.weight'][i]).toBeCloseTo(0.1 * 1.9 * 0.5 * p0[i], 5));
    expect(godin['g.0.weight']).toEqual(base['g.0.weight']);
  });

  it('h_schedule constant keeps h at lr while the rest follows the cosine schedule', async () => {
    const net = fixtureNet('cosine');
    const trainer = await registry.build<Trainer>('trainer', { name: 'godin', args: { h_schedule: 'constant' } }, ctx('trainer'));
    const group = (trainer as unknown as { parameterGroup(n: string, lr: number): { lr: number; weightDecay: number } | undefined })
      .parameterGroup;
    expect(group.call(trainer, 'h.h.weight', 0.03)).toEqual({ lr: 0.1, weightDecay: 0 });
    expect(group.call(trainer, 'g.0.weight', 0.03)).toBeUndefined();
    net.dispose();
  });

  it('refuses a network without the decomposition; godin_net wraps any registered backbone', async () => {
    const lenet = await registry.build<Classifier>('network', 'lenet', ctx('network'));
    const trainer = await registry.build<Trainer>('trainer', 'godin', ctx('trainer'));
    expect(() => trainer.init(lenet, { epochs: 1, stepsPerEpoch: 1 })).toThrow(UsageError);
    expect(() => trainer.init(lenet, { epochs: 1, stepsPerEpoch: 1 })).toThrow(/godin_net/);
    lenet.dispose();
    expect(trainer.networkWrapper).toBe('godin_net');
    const config = { network: { name: 'lenet', args: { in_channels: 1 } } };
    const wrapped = await registry.build<GodinNet>('network', { name: 'godin_net', args: { backbone: config.network } }, ctx('network'));
    expect([wrapped.name, wrapped.featureDim, wrapped.similarity, wrapped.backbone.name]).toEqual(['godin_net', 84, 'cosine', 'lenet']);
    expect([...wrapped.namedVariables().keys()].filter((k) => !k.startsWith('backbone.'))).toEqual([
      'h.h.weight',
      'g.0.weight',
      'g.0.bias',
      'g.1.weight',
      'g.1.bias',
      'g.1.running_mean',
      'g.1.running_var',
    ]);
    wrapped.dispose();
  });
});
