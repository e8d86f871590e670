import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import type { Classifier } from '@oodkit/core';
import { finalLayerOf } from '@oodkit/evaluators';
import { fileModelIO, loadTfjsModel } from '@oodkit/networks';
import { GradnormPostprocessor, OdinPostprocessor, gradnormArgs, gradnormScore, odinArgs } from '@oodkit/postprocessors';

let dir: string;
let original: tf.Sequential;
let loaded: Classifier;
let x: tf.Tensor4D;

/** The original in-memory model as a reference: z from the named layer, logits = the fc layer's pre-softmax. */
function referenceLogits(input: tf.Tensor4D): { logits: tf.Tensor2D; features: tf.Tensor2D } {
  const trunk = tf.model({ inputs: original.inputs, outputs: original.getLayer('penultimate').output as tf.SymbolicTensor });
  const z = trunk.apply(input) as tf.Tensor2D;
  const [kernel, bias] = original.getLayer('fc').getWeights();
  return { logits: tf.add(tf.matMul(z, kernel!), bias!) as tf.Tensor2D, features: z };
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  dir = mkdtempSync(join(tmpdir(), 'oodkit-tfjs-'));
  original = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [8, 8, 3],
        filters: 4,
        kernelSize: 3,
        activation: 'relu',

        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.flatten(),
      tf.layers.dense({
        units: 12,
        activation: 'relu',
        name: 'penultimate',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
      tf.layers.dense({
        units: 5,
        activation: 'softmax',
        name: 'fc',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
        biasInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 4 }),
      }),
    ],
  });
  await original.save(fileModelIO(join(dir, 'model.json')));
  loaded = await loadTfjsModel(join(dir, 'model.json'), { featuresOutput: 'penultimate' });
  x = tf.randomUniform([6, 8, 8, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
});

afterAll(() => {
  loaded?.dispose();
  original?.dispose();
  x?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('tfjs LayersModel from model.json on disk', () => {
  it('writes model.json and one weights file, and reads them back without a network handler', () => {
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    expect(loaded.inputShape).toEqual([8, 8, 3]);
    expect([loaded.numClasses, loaded.featureDim]).toEqual([5, 12]);
  });

  it("gives the named layer's features and the final Dense layer's pre-softmax logits", () => {
    tf.tidy(() => {
      const ref = referenceLogits(x);
      const out = loaded.forwardFeatures(x);
      expect(maxDiff(out.features, ref.features)).toBeLessThan(1e-6);
      expect(maxDiff(out.logits, ref.logits)).toBeLessThan(1e-5);
      // The model's own output is the softmax of these logits.
      expect(maxDiff(tf.softmax(out.logits), original.predict(x) as tf.Tensor)).toBeLessThan(1e-6);
      const { weight, bias } = loaded.finalLayer();
      const [kernel, b] = original.getLayer('fc').getWeights();
      expect(maxDiff(weight, tf.transpose(kernel!))).toBe(0);
      expect(maxDiff(bias, b!)).toBe(0);
    });
  });

  it('gives the same input gradient as the original model', () => {
    tf.tidy(() => {
      const loss = (f: (x: tf.Tensor4D) => tf.Tensor2D) => (input: tf.Tensor) => tf.sum(tf.mul(f(input as tf.Tensor4D), tf.range(1, 6)));
      const g = tf.grad(loss((input) => loaded.forward(input)))(x);
      const gRef = tf.grad(loss((input) => referenceLogits(input).logits))(x);
      expect(tf.max(tf.abs(gRef)).dataSync()[0]).toBeGreaterThan(0);
      expect(maxDiff(g, gRef)).toBeLessThan(1e-5);
    });
  });

  it('runs ODIN (input gradients) with the scores of the same computation on the original model', async () => {
    const reference: Classifier = {
      ...loaded,
      name: 'reference',
      inputShape: loaded.inputShape,
      numClasses: 5,
      featureDim: 12,
      forward: (input) => tf.tidy(() => referenceLogits(input).logits),
    } as Classifier;
    const scores = [];
    for (const network of [loaded, reference]) {
      const odin = new OdinPostprocessor(odinArgs, odinArgs.parse({ temperature: 10, noise: 0.01 }));
      await odin.setup({ finalLayer: finalLayerOf(loaded), network }, {});
      scores.push(await odin.score({ features: tf.zeros([6, 12]) as tf.Tensor2D, inputs: x }));
    }
    const [got, want] = scores as [{ conf: Float64Array; pred: Int32Array }, { conf: Float64Array; pred: Int32Array }];
    expect(Array.from(got.pred)).toEqual(Array.from(want.pred));
    for (let i = 0; i < 6; i++) expect(got.conf[i]).toBeCloseTo(want.conf[i]!, 6);
    // The perturbation changes the score: ODIN is not MSP at T here.
    const plain = tf.tidy(() => tf.max(tf.softmax(tf.div(referenceLogits(x).logits, 10)), 1).dataSync());
    expect(Math.max(...Array.from(got.conf, (c, i) => Math.abs(c - plain[i]!)))).toBeGreaterThan(1e-6);
  });

  it('runs GradNorm on its features and final layer', async () => {
    const gradnorm = new GradnormPostprocessor(gradnormArgs, gradnormArgs.parse({}));
    await gradnorm.setup({ finalLayer: finalLayerOf(loaded), network: loaded }, {});
    const features = loaded.forwardFeatures(x).features;
    const got = await gradnorm.score({ features, inputs: x });
    const want = tf.tidy(() => {
      const ref = referenceLogits(x);
      return gradnormScore(ref.logits, ref.features).dataSync();
    });
    features.dispose();
    for (let i = 0; i < 6; i++) expect(got.conf[i]).toBeCloseTo(want[i]!, 4);
  });

  it('names a missing feature layer and lists the layers', async () => {
    await expect(loadTfjsModel(join(dir, 'model.json'), { featuresOutput: 'pool5' })).rejects.toThrow(
      /features_output \(--features-output\): .* has no layer 'pool5' \(layers: .*penultimate, fc\)/,
    );
  });

  it('refuses a feature layer that does not feed the final Dense layer', async () => {
    const flatten = original.layers[1]!.name;
    await expect(loadTfjsModel(join(dir, 'model.json'), { featuresOutput: flatten })).rejects.toThrow(
      /does not feed the final Dense layer 'fc'/,
    );
  });
});
