import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import {
  OnnxModel,
  assertOnnxSupports,
  findOnnxFinalLayer,
  loadStateDict,
  parseOnnxGraph,
  type TorchStateNetwork,
} from '../../src/index.js';
import { build } from '../helpers.js';

// Fixtures and reference values: /usr/bin/python3 tools/reference/export_onnx_fixtures.py
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'onnx');

interface Reference {
  input_shape: [number, number, number, number];
  input: number[];
  logits: number[];
  features: number[];
  num_classes: number;
  feature_dim: number;
  weight: number[];
  bias: number[];
}
beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

const reference = JSON.parse(readFileSync(join(FIXTURES, 'onnx_reference.json'), 'utf8')) as Record<'lenet' | 'matmul_head', Reference>;

function nhwc(ref: Reference): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(ref.input, ref.input_shape), [0, 2, 3, 1]));
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('OnnxModel on a LeNet exported by torch.onnx.export', () => {
  let model: OnnxModel;
  beforeAll(async () => {
    model = await OnnxModel.load(join(FIXTURES, 'lenet.onnx'), { threads: 1 });
  });
  afterAll(async () => model.dispose());

  it('finds the final Gemm and takes its input as the feature and its weights as W, b', () => {
    const ref = reference.lenet;
    expect(model.describe()).toMatchObject({ finalLayerOp: 'Gemm', logitsOutput: 'logits', featuresOutput: '/relu/Relu_output_0' });
    expect(model.inputShape).toEqual([28, 28, 3]);
    const layer = model.finalLayer();
    expect([layer.numClasses, layer.featureDim]).toEqual([ref.num_classes, ref.feature_dim]);
    expect(maxDiff(layer.weight, ref.weight)).toBe(0);
    expect(maxDiff(layer.bias, ref.bias)).toBe(0);
  });

  it("gives PyTorch's logits and penultimate features to 1e-4", async () => {
    const ref = reference.lenet;
    const x = nhwc(ref);
    const out = await model.infer(x);
    x.dispose();
    expect(maxDiff(out.logits, ref.logits)).toBeLessThan(1e-4);
    expect(maxDiff(out.features, ref.features)).toBeLessThan(1e-4);
  });

  it('rejects an input of the wrong shape, naming the expected one', async () => {
    const x = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    await expect(model.infer(x)).rejects.toThrow(/expects input \[N, 28, 28, 3\]/);
    x.dispose();
  });
});

describe('OnnxModel with named outputs and a MatMul + Add final layer', () => {
  it('reads W from the MatMul weight (transposed) and b from the Add, and matches PyTorch', async () => {
    const ref = reference.matmul_head;
    const model = await OnnxModel.load(join(FIXTURES, 'matmul_head.onnx'), {
      logitsOutput: 'logits',
      featuresOutput: 'features',
      threads: 1,
    });
    try {
      expect(model.describe().finalLayerOp).toBe('MatMul');
      const layer = model.finalLayer();
      expect(maxDiff(layer.weight, ref.weight)).toBe(0);
      expect(maxDiff(layer.bias, ref.bias)).toBe(0);
      const x = nhwc(ref);
      const out = await model.infer(x);
      x.dispose();
      expect(maxDiff(out.logits, ref.logits)).toBeLessThan(1e-4);
      expect(maxDiff(out.features, ref.features)).toBeLessThan(1e-4);
    } finally {
      await model.dispose();
    }
  });

  it('auto-detects the MatMul fed by the unsqueezed feature and flattens it to [N, D]', async () => {
    const ref = reference.matmul_head;
    const model = await OnnxModel.load(join(FIXTURES, 'matmul_head.onnx'), { threads: 1 });
    try {
      expect(model.describe().featuresOutput).toBe('/Unsqueeze_output_0');
      const x = nhwc(ref);
      const out = await model.infer(x);
      x.dispose();
      expect(maxDiff(out.logits, ref.logits)).toBeLessThan(1e-4);
      expect(maxDiff(out.features, ref.features)).toBeLessThan(1e-4);
    } finally {
      await model.dispose();
    }
  });

  it('refuses a logits output whose shape is not [N, C] of the final layer', async () => {
    const ref = reference.matmul_head;
    const model = await OnnxModel.load(join(FIXTURES, 'matmul_head.onnx'), {
      logitsOutput: '/hidden/Gemm_output_0',
      featuresOutput: 'features',
    });
    const x = nhwc(ref);
    try {
      await expect(model.infer(x)).rejects.toThrow(
        /logits_output \(--logits-output\) '\/hidden\/Gemm_output_0' has shape \[3, 16\] for a batch of 3; expected \[3, 5\]/,
      );
    } finally {
      x.dispose();
      await model.dispose();
    }
  });
});

describe('ONNX graph errors', () => {
  it('names an unknown features output and lists the graph outputs', () => {
    const graph = parseOnnxGraph(readFileSync(join(FIXTURES, 'lenet.onnx')), 'lenet.onnx');
    expect(() => findOnnxFinalLayer(graph, 'penultimate')).toThrow(
      /features_output \(--features-output\): 'penultimate' is not a value of lenet.onnx \(graph outputs: logits/,
    );
  });

  it('names a features output that no linear layer consumes', () => {
    const graph = parseOnnxGraph(readFileSync(join(FIXTURES, 'lenet.onnx')), 'lenet.onnx');
    expect(() => findOnnxFinalLayer(graph, 'logits')).toThrow(/no Gemm\/MatMul with constant weights takes 'logits'/);
  });

  it('rejects a file that is not ONNX', () => {
    expect(() => parseOnnxGraph(new TextEncoder().encode('{"modelTopology": {}}'), 'model.json')).toThrow(/model.json: not an ONNX model/);
  });

  it('refuses postprocessors that need the network, saying an ONNX model cannot provide gradients', () => {
    expect(() => assertOnnxSupports({ name: 'odin', needsNetwork: true, networkUse: 'input gradients' })).toThrow(
      /odin needs input gradients, which an ONNX model cannot provide/,
    );
    expect(() => assertOnnxSupports({ name: 'gram', needsNetwork: true })).toThrow(/gram needs the network itself, which an ONNX/);
    expect(() => assertOnnxSupports({ name: 'gradnorm', needsNetwork: false })).not.toThrow();
  });
});

describe("an ONNX export and oodkit's own network on the same weights", () => {
  it("oodkit's lenet (3 channels) loaded from the ONNX initializers gives the ONNX model's logits and features", async () => {
    const graph = parseOnnxGraph(readFileSync(join(FIXTURES, 'lenet.onnx')), 'lenet.onnx');
    // torch.onnx.export keeps the state_dict names (OpenOOD's) for the initializers.
    const tensors = new Map(
      [...graph.constantNames]
        .filter((name) => /^(block\d|classifier1|fc)\./.test(name))
        .map((name) => {
          const c = graph.constant(name)!;
          return [name, { dtype: 'float32' as const, shape: c.dims, data: c.data }];
        }),
    );
    const network = await build('lenet', { in_channels: 3, num_classes: 10 });
    const onnx = await OnnxModel.load(join(FIXTURES, 'lenet.onnx'), { threads: 1 });
    const x = nhwc(reference.lenet);
    try {
      loadStateDict(network as unknown as TorchStateNetwork, tensors);
      const ours = network.forwardFeatures(x);
      const theirs = await onnx.infer(x);
      expect(maxDiff(await ours.logits.data(), theirs.logits)).toBeLessThan(1e-4);
      expect(maxDiff(await ours.features.data(), theirs.features)).toBeLessThan(1e-4);
      tf.dispose([ours.logits, ours.features]);
    } finally {
      x.dispose();
      network.dispose();
      await onnx.dispose();
    }
  });
});
