import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import type { Classifier } from '@oodkit/core';
import { finalLayerOf } from '@oodkit/evaluators';
import { loadTfjsModel } from '@oodkit/networks';
import { OdinPostprocessor, odinArgs } from '@oodkit/postprocessors';

let dir: string;
let model: Classifier;
let hiddenKernel: tf.Tensor2D;
let fcKernel: tf.Tensor2D;
let fcBias: tf.Tensor1D;
let x: tf.Tensor4D;

const float = { type: 'DT_FLOAT' };
const constNode = (name: string, dtype: string, dims: number[]) => ({
  name,
  op: 'Const',
  attr: { value: { tensor: { dtype, tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } } }, dtype: { type: dtype } },
});

/**
 * A GraphModel as tensorflowjs_converter writes one: x [N, 4, 4, 3] → Reshape [N, 48] → MatMul → Relu
 * ('embedding') → _FusedMatMul with BiasAdd ('logits').
 */
async function writeGraphModel(file: string): Promise<void> {
  const topology = {
    node: [
      {
        name: 'x',
        op: 'Placeholder',
        attr: { dtype: float, shape: { shape: { dim: [{ size: '-1' }, { size: '4' }, { size: '4' }, { size: '3' }] } } },
      },
      constNode('flat/shape', 'DT_INT32', [2]),
      { name: 'flat', op: 'Reshape', input: ['x', 'flat/shape'], attr: { T: float, Tshape: { type: 'DT_INT32' } } },
      constNode('hidden/kernel', 'DT_FLOAT', [48, 6]),
      {
        name: 'hidden',
        op: 'MatMul',
        input: ['flat', 'hidden/kernel'],
        attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } },
      },
      { name: 'embedding', op: 'Relu', input: ['hidden'], attr: { T: float } },
      constNode('fc/kernel', 'DT_FLOAT', [6, 5]),
      constNode('fc/bias', 'DT_FLOAT', [5]),
      {
        name: 'logits',
        op: '_FusedMatMul',
        input: ['embedding', 'fc/kernel', 'fc/bias'],
        attr: {
          T: float,
          fused_ops: { list: { s: [btoa('BiasAdd')] } },
          num_args: { i: '1' },
          epsilon: { f: 0 },
          transpose_a: { b: false },
          transpose_b: { b: false },
        },
      },
    ],
    library: {},
    versions: { producer: 1 },
  };
  const { data, specs } = await tf.io.encodeWeights({
    'flat/shape': tf.tensor1d([-1, 48], 'int32'),
    'hidden/kernel': hiddenKernel,
    'fc/kernel': fcKernel,
    'fc/bias': fcBias,
  });
  writeFileSync(join(dir, 'weights.bin'), new Uint8Array(data as ArrayBuffer));
  writeFileSync(
    file,
    JSON.stringify({
      format: 'graph-model',
      generatedBy: 'test',
      convertedBy: 'hand',
      modelTopology: topology,
      weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
    }),
  );
}

function reference(input: tf.Tensor4D): { logits: tf.Tensor2D; features: tf.Tensor2D } {
  const features = tf.relu(tf.matMul(tf.reshape(input, [-1, 48]), hiddenKernel)) as tf.Tensor2D;
  return { features, logits: tf.add(tf.matMul(features, fcKernel), fcBias) as tf.Tensor2D };
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  dir = mkdtempSync(join(tmpdir(), 'oodkit-tfjs-graph-'));
  hiddenKernel = tf.randomNormal([48, 6], 0, 0.3, 'float32', 1) as tf.Tensor2D;
  fcKernel = tf.randomNormal([6, 5], 0, 0.5, 'float32', 2) as tf.Tensor2D;
  fcBias = tf.randomNormal([5], 0, 0.5, 'float32', 3) as tf.Tensor1D;
  x = tf.randomUniform([4, 4, 4, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
  await writeGraphModel(join(dir, 'model.json'));
  model = await loadTfjsModel(join(dir, 'model.json'));
});
afterAll(() => {
  model?.dispose();
  tf.dispose([hiddenKernel, fcKernel, fcBias, x]);
  rmSync(dir, { recursive: true, force: true });
});

describe('tfjs GraphModel from model.json on disk', () => {
  it('finds the last fused MatMul: its input is the feature, its kernel and fused bias are W, b', () => {
    expect(model.inputShape).toEqual([4, 4, 3]);
    expect([model.numClasses, model.featureDim]).toEqual([5, 6]);
    tf.tidy(() => {
      const { weight, bias } = model.finalLayer();
      expect(maxDiff(weight, tf.transpose(fcKernel))).toBe(0);
      expect(maxDiff(bias, fcBias)).toBe(0);
      const out = model.forwardFeatures(x);
      const ref = reference(x);
      expect(maxDiff(out.features, ref.features)).toBeLessThan(1e-6);
      expect(maxDiff(out.logits, ref.logits)).toBeLessThan(1e-5);
    });
  });

  it('differentiates through the graph: ODIN scores equal those of the same computation written in tf ops', async () => {
    const ref: Classifier = { ...model, forward: (input: tf.Tensor4D) => tf.tidy(() => reference(input).logits) } as Classifier;
    const scores: Float64Array[] = [];
    for (const network of [model, ref]) {
      const odin = new OdinPostprocessor(odinArgs, odinArgs.parse({ temperature: 5, noise: 0.02 }));
      await odin.setup({ finalLayer: finalLayerOf(model), network }, {});
      scores.push((await odin.score({ features: tf.zeros([4, 6]) as tf.Tensor2D, inputs: x })).conf);
    }
    for (let i = 0; i < 4; i++) expect(scores[0]![i]).toBeCloseTo(scores[1]![i]!, 6);
  });

  it('names a features node no MatMul consumes', async () => {
    await expect(loadTfjsModel(join(dir, 'model.json'), { featuresOutput: 'flat/shape' })).rejects.toThrow(
      /features_output \(--features-output\): no MatMul with a constant weight takes node 'flat\/shape'/,
    );
  });
});
