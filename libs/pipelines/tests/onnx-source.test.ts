import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, createOodkitContainer, registryOf, silentLogger, type ComponentRegistry, type Postprocessor } from '@oodkit/core';
import { computeModule, initCompute } from '@oodkit/compute';
import { dataModule, loadBenchmark, type LoadedBenchmark } from '@oodkit/data';
import { OnnxModel, assertOnnxSupports, networksModule } from '@oodkit/networks';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { evaluateOod, evaluatorsModule, type InMemoryFeatureSource } from '@oodkit/evaluators';
import { benchmarkSplits, datasetOutputs, inferenceFeatureSource } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const lenetOnnx = join(here, '..', '..', 'networks', 'tests', 'fixtures', 'onnx', 'lenet.onnx');

const generated = (kind: string, count: number, seed: number) => ({ name: 'generated', args: { kind, count, seed, num_classes: 10 } });
const mnist = (split: string, start: number, count: number) => ({
  name: 'subset',
  args: { of: { name: 'mnist', args: { split } }, seed: 0, stratified: true, start, count, name: `mnist-${split}-${start}` },
});
/** Embedded MNIST converted to RGB (as OpenOOD feeds its LeNet) and generated far-OOD images. */
const benchmark = {
  name: 'mnist_rgb_tiny',
  num_classes: 10,
  image_shape: [28, 28, 1],
  normalization: { mean: [0.5], std: [0.5] },
  preprocessor: { train: [{ name: 'normalize' }, { name: 'to_rgb' }], test: [{ name: 'normalize' }, { name: 'to_rgb' }] },
  id: { train: mnist('train', 0, 100), val: mnist('train', 200, 50), test: mnist('test', 0, 50) },
  ood: {
    val: { name: 'noise_val', dataset: generated('gaussian', 20, 4) },
    near: [{ name: 'perlin', dataset: generated('perlin', 20, 6) }],
    far: [{ name: 'stripes', dataset: generated('stripes', 20, 5) }],
  },
};

/**
 * Feature-based methods this random-init LeNet cannot fit on 60 generated images whatever the model
 * format (they need correctly classified samples of every class).
 */
const NEEDS_PER_CLASS_ACCURACY = new Set(['openmax', 'she']);

let registry: ComponentRegistry;
let model: OnnxModel;
let bench: LoadedBenchmark;
let source: InMemoryFeatureSource;

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  registry = registryOf(createOodkitContainer([computeModule, dataModule, networksModule, postprocessorsModule, evaluatorsModule]));
  bench = await loadBenchmark(benchmark, registry, { logger: silentLogger, rng: Rng.fromSeed(0), config: {} });
  model = await OnnxModel.load(lenetOnnx, { threads: 1 });
  source = await inferenceFeatureSource(model, bench, { batchSize: 16 });
});
afterAll(async () => model?.dispose());

async function build(name: string): Promise<Postprocessor> {
  return registry.build<Postprocessor>('postprocessor', { name, args: {} }, { logger: silentLogger, rng: Rng.fromSeed(0), config: {} });
}

describe('an ONNX model as a feature source', () => {
  it("scores MSP from W, b exactly as the softmax of onnxruntime's own logits on every split", async () => {
    const msp = await build('msp');
    await msp.setup(source.model, {});
    for (const { name, dataset, ood } of benchmarkSplits(bench)) {
      const direct = await datasetOutputs(model, dataset, bench.preprocess.test, 7, ood ? -1 : undefined);
      const scores = await source.scoreSplit(name, msp);
      for (let i = 0; i < dataset.length; i++) {
        const row = direct.logits.subarray(i * 10, (i + 1) * 10);
        const max = Math.max(...row);
        const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
        expect(scores.conf[i]).toBeCloseTo(1 / sum, 5);
        expect(scores.pred[i]).toBe(row.indexOf(max));
      }
    }
  });

  it('runs every feature-based postprocessor and refuses the network-based ones, saying why', async () => {
    const ran: string[] = [];
    const refused: string[] = [];
    for (const name of registry.names('postprocessor')) {
      const pp = await build(name);
      try {
        if (pp.needsNetwork) {
          expect(pp.networkUse, name).toBeTruthy();
          expect(() => assertOnnxSupports(pp)).toThrow(
            new RegExp(`${name} needs ${pp.networkUse!.replace(/[()]/g, '\\$&')}, which an ONNX model cannot provide`),
          );
          refused.push(name);
          continue;
        }
        if (NEEDS_PER_CLASS_ACCURACY.has(name)) continue;
        const evaluation = await evaluateOod({ postprocessor: pp, source });
        for (const row of evaluation.rows) expect(Number.isFinite(row.auroc), `${name} ${row.dataset}`).toBe(true);
        ran.push(name);
      } finally {
        pp.dispose?.();
      }
    }
    expect(refused.sort()).toEqual(
      [
        'adascale_a',
        'adascale_l',
        'conf_branch',
        'ensemble',
        'godin',
        'gram',
        'iodin',
        'mds_ensemble',
        'odin',
        'rankfeat',
        'rotpred',
        't2fnorm',
      ].sort(),
    );
    expect(ran.length).toBe(registry.names('postprocessor').length - refused.length - NEEDS_PER_CLASS_ACCURACY.size);
    expect(ran).toEqual(expect.arrayContaining(['msp', 'mls', 'ebo', 'gradnorm', 'react', 'knn', 'vim', 'mds', 'gmm', 'nnguide']));
  }, 120_000);
});
