import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { readNpy } from '@oodkit/core';
import { fileModelIO } from '@oodkit/networks';
import { main } from '../src/main.js';
import { captureOutput } from './capture-output.js';

const here = dirname(fileURLToPath(import.meta.url));
const lenetOnnx = join(here, '..', '..', '..', 'libs', 'networks', 'tests', 'fixtures', 'onnx', 'lenet.onnx');
const reference = JSON.parse(
  readFileSync(join(here, '..', '..', '..', 'libs', 'networks', 'tests', 'fixtures', 'onnx', 'onnx_reference.json'), 'utf8'),
) as { lenet: { weight: number[]; bias: number[] } };
const io = captureOutput();

const dataset = (kind: string, count: number, seed: number) =>
  `{ name: generated, args: { kind: ${kind}, count: ${count}, shape: [28, 28, 3], seed: ${seed}, num_classes: 10 } }`;

/** A 3-channel 28×28 benchmark of generated images, so the ONNX LeNet (3 input channels) runs in seconds. */
const rgbBenchmark = `benchmark:
  name: rgb_tiny
  num_classes: 10
  image_shape: [28, 28, 3]
  normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }
  preprocessor: { train: [{ name: normalize }], test: [{ name: normalize }] }
  id:
    train: ${dataset('blobs', 20, 1)}
    val: ${dataset('blobs', 10, 2)}
    test: ${dataset('blobs', 12, 3)}
  ood:
    val: { name: noise_val, dataset: ${dataset('gaussian', 8, 4)} }
    far: [{ name: stripes, dataset: ${dataset('stripes', 8, 5)} }]
`;

let dir: string;
let benchFile: string;
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  dir = mkdtempSync(join(tmpdir(), 'oodkit-feat-extract-models-'));
  benchFile = join(dir, 'rgb_tiny.yml');
  writeFileSync(benchFile, rgbBenchmark);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const common = () => ['--benchmark', benchFile, '--compute.backend=cpu', '--log_level=silent'];

describe('oodkit feat-extract --onnx / --tfjs', () => {
  it('writes a feature folder from an ONNX model: W, b of its final Gemm and its penultimate features', async () => {
    const out = join(dir, 'onnx-features');
    expect(await main(['feat-extract', '--onnx', lenetOnnx, '--threads', '1', ...common(), '-o', out])).toBe(0);
    const weight = await readNpy(join(out, 'fc_weight.npy'));
    expect(weight.shape).toEqual([10, 84]);
    expect(Array.from(weight.data as Float32Array)).toEqual(Array.from(Float32Array.from(reference.lenet.weight)));
    expect(Array.from((await readNpy(join(out, 'fc_bias.npy'))).data as Float32Array)).toEqual(
      Array.from(Float32Array.from(reference.lenet.bias)),
    );
    const test = await readNpy(join(out, 'test_features.npy'));
    expect(test.shape).toEqual([12, 84]);
    const far = await readNpy(join(out, 'stripes_labels.npy'));
    expect(Array.from(far.data as Int32Array).every((l) => Number(l) === -1)).toBe(true);
    expect(readFileSync(join(out, 'splits.yml'), 'utf8')).toMatch(/far:\s*\n\s*- stripes/);
    const features = test.data as Float32Array;
    expect(features.some((v) => v > 0)).toBe(true);
    expect(features.every((v) => v >= 0)).toBe(true); // the penultimate feature is LeNet's ReLU output
  }, 60_000);

  it('writes a feature folder from a tfjs LayersModel with a named feature layer', async () => {
    const modelDir = join(dir, 'tfjs');
    const model = tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: [28, 28, 3] }),
        tf.layers.dense({ units: 6, activation: 'relu', name: 'embedding', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.dense({ units: 10, name: 'classifier', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    await model.save(fileModelIO(join(modelDir, 'model.json')));
    const kernel = Array.from(await model.getLayer('classifier').getWeights()[0]!.data());
    model.dispose();
    const out = join(dir, 'tfjs-features');
    expect(
      await main(['feat-extract', '--tfjs', join(modelDir, 'model.json'), '--features-output', 'embedding', ...common(), '-o', out]),
    ).toBe(0);
    const weight = await readNpy(join(out, 'fc_weight.npy'));
    expect(weight.shape).toEqual([10, 6]);
    // fc_weight is W [C, D], the transpose of the Dense kernel [D, C].
    expect((weight.data as Float32Array)[1 * 6 + 2]).toBeCloseTo(kernel[2 * 10 + 1]!, 7);
    expect((await readNpy(join(out, 'val_features.npy'))).shape).toEqual([10, 6]);
  }, 60_000);

  it('refuses no model, two models, and output names with a checkpoint (exit 2, naming the flags)', async () => {
    expect(await main(['feat-extract', ...common()])).toBe(2);
    expect(io.err).toMatch(/a model is required: --checkpoint, --onnx, --tfjs/);
    expect(await main(['feat-extract', '--onnx', lenetOnnx, '--tfjs', 'model.json', ...common()])).toBe(2);
    expect(io.err).toMatch(/one model only: got --onnx and --tfjs/);
    expect(await main(['feat-extract', '--checkpoint', lenetOnnx, '--features-output', 'z', ...common()])).toBe(2);
    expect(io.err).toMatch(/--features-output applies to --onnx or --tfjs models, not to --checkpoint/);
    expect(await main(['feat-extract', '--onnx', join(dir, 'missing.onnx'), ...common()])).toBe(2);
    expect(io.err).toMatch(/--onnx .*missing.onnx: no such file/);
  });

  it('refuses extra feature layers from an ONNX or tfjs model (exit 2, naming --layers): they name no blocks to pool', async () => {
    expect(await main(['feat-extract', '--onnx', lenetOnnx, '--layers', 'block3', ...common(), '-o', join(dir, 'onnx-layers')])).toBe(2);
    expect(io.err).toMatch(
      /--layers \(block3\) applies to --checkpoint models only: an --onnx model gives only logits and penultimate features/,
    );
    expect(await main(['feat-extract', '--tfjs', 'model.json', '--layers', 'layer3,layer4', ...common()])).toBe(2);
    expect(io.err).toMatch(/--layers \(layer3, layer4\) applies to --checkpoint models only: an --tfjs model/);
  });

  it('names an ONNX features output the graph does not have (exit 2)', async () => {
    expect(await main(['feat-extract', '--onnx', lenetOnnx, '--features-output', 'pool5', ...common(), '-o', join(dir, 'bad')])).toBe(2);
    expect(io.err).toMatch(/features_output \(--features-output\): 'pool5' is not a value of .*lenet.onnx \(graph outputs: logits/);
  });
});
