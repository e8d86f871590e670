import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, Rng, createOodkitContainer, registryOf, silentLogger, type Classifier, type ComponentRegistry } from '@oodkit/core';
import { computeModule, initCompute } from '@oodkit/compute';
import { dataModule, loadBenchmark, resolveBenchmarkValue } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { trainersModule } from '@oodkit/trainers';
import { FeatureFolder, evaluatorsModule, expectedCalibrationError, rowSummaries } from '@oodkit/evaluators';
import { sioModule } from '@oodkit/sio';
import {
  buildEvaluator,
  evalSource,
  evaluateModel,
  limitBenchmark,
  loadTrainedNetwork,
  pipelinesModule,
  type RunnablePipeline,
} from '../src/index.js';

/** The registered OpenOOD-style stages, each built from a config by `pipeline: {name, args}`. */
describe('registered pipelines: train → test_acc, feat_extract, test_ood', () => {
  let dir: string;
  let registry: ComponentRegistry;
  let base: Record<string, unknown>;
  let checkpoint: string;

  const build = (config: Record<string, unknown>) =>
    registry.build<RunnablePipeline>(
      'pipeline',
      config.pipeline as never,
      { logger: silentLogger, rng: Rng.fromSeed(0), config },
      'pipeline',
    );

  beforeAll(async () => {
    await initCompute({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'oodkit-stages-'));
    registry = registryOf(
      createOodkitContainer([
        computeModule,
        dataModule,
        networksModule,
        postprocessorsModule,
        trainersModule,
        evaluatorsModule,
        sioModule,
        pipelinesModule,
      ]),
    );
    const raw = (await resolveBenchmarkValue('mnist')) as Record<string, unknown>;
    const full = await loadBenchmark(raw, registry, { logger: silentLogger, rng: Rng.fromSeed(0), config: {} });
    const benchmark = limitBenchmark(raw, full, { train: 512, val: 128, test: 256, ood: 128 });
    base = { benchmark, seed: 0, output_dir: dir, network: { name: 'lenet', args: { num_classes: 10, in_channels: 1 } } };
    const trainer = await build({
      ...base,
      exp_name: 'trained',
      trainer: { name: 'base' },
      train: { epochs: 1, batch_size: 64, val_batch_size: 128 },
      pipeline: { name: 'train' },
    });
    await trainer.run({ logger: silentLogger });
    checkpoint = join(dir, 'trained', 'checkpoints', 'last.ckpt');
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('test_acc equals the accuracy recomputed from the feature folder logits (z·Wᵀ + b)', async () => {
    const acc = (await build({ ...base, exp_name: 'acc', pipeline: { name: 'test_acc', args: { checkpoint } } }).then((p) => p.run())) as {
      accuracy: number;
      count: number;
    };
    await build({ ...base, exp_name: 'feats', pipeline: { name: 'feat_extract', args: { checkpoint } } }).then((p) => p.run());
    const folder = await FeatureFolder.open(join(dir, 'feats'));
    const test = await folder.split('test');
    const { weight, bias, numClasses: c, featureDim: d } = folder.finalLayer;
    let correct = 0;
    for (let i = 0; i < test.count; i++) {
      let best = -Infinity;
      let arg = -1;
      for (let k = 0; k < c; k++) {
        let v = bias[k]!;
        for (let j = 0; j < d; j++) v += test.features[i * d + j]! * weight[k * d + j]!;
        if (v > best) [best, arg] = [v, k];
      }
      if (arg === test.labels[i]) correct++;
    }
    expect(acc.count).toBe(256);
    expect(acc.accuracy).toBeCloseTo((100 * correct) / test.count, 6);
    expect(JSON.parse(readFileSync(join(dir, 'acc', 'test_acc.json'), 'utf8')).accuracy).toBe(acc.accuracy);
  });

  it('test_acc runs the configured evaluator: ece equals the calibration error recomputed from the folder logits', async () => {
    const result = (await build({
      ...base,
      exp_name: 'ece',
      evaluator: { name: 'ece' },
      pipeline: { name: 'test_acc', args: { checkpoint } },
    }).then((p) => p.run())) as { evaluator: string; metrics: { ece: number; accuracy: number } };
    await build({ ...base, exp_name: 'feats_ece', pipeline: { name: 'feat_extract', args: { checkpoint } } }).then((p) => p.run());
    const folder = await FeatureFolder.open(join(dir, 'feats_ece'));
    const test = await folder.split('test');
    const { weight, bias, numClasses: c, featureDim: d } = folder.finalLayer;
    const logits = new Float32Array(test.count * c);
    for (let i = 0; i < test.count; i++)
      for (let k = 0; k < c; k++) {
        let v = bias[k]!;
        for (let j = 0; j < d; j++) v += test.features[i * d + j]! * weight[k * d + j]!;
        logits[i * c + k] = v;
      }
    const { pred, maxProb } = rowSummaries({ split: 'test', logits, numClasses: c, labels: test.labels });
    expect(result.evaluator).toBe('ece');
    expect(result.metrics.ece).toBeCloseTo(expectedCalibrationError(maxProb, pred, test.labels, 15).ece, 4);
    await expect(
      build({ ...base, exp_name: 'bad', evaluator: { name: 'ood' }, pipeline: { name: 'test_acc', args: { checkpoint } } }).then((p) =>
        p.run(),
      ),
    ).rejects.toThrow(/test_acc needs a classification evaluator/);
  });

  it('test_ood gives the same metrics from the checkpoint as from its feature folder, and runs ODIN through the network', async () => {
    await build({ ...base, exp_name: 'feats2', pipeline: { name: 'feat_extract', args: { checkpoint } } }).then((p) => p.run());
    type Result = { rows: { dataset: string; AUROC: number; 'FPR@95': number }[]; idAccuracy: number };
    const viaNet = (await build({
      ...base,
      exp_name: 'ood_net',
      postprocessor: { name: 'msp' },
      pipeline: { name: 'test_ood', args: { checkpoint } },
    }).then((p) => p.run())) as Result;
    const viaFeat = (await build({
      ...base,
      exp_name: 'ood_feat',
      postprocessor: { name: 'msp' },
      pipeline: { name: 'test_ood', args: { features: join(dir, 'feats2') } },
    }).then((p) => p.run())) as Result;
    expect(viaNet.rows.map((r) => r.dataset)).toEqual(viaFeat.rows.map((r) => r.dataset));
    viaNet.rows.forEach((r, i) => expect(r.AUROC).toBeCloseTo(viaFeat.rows[i]!.AUROC, 9));
    expect(viaNet.idAccuracy).toBeCloseTo(viaFeat.idAccuracy, 9);
    const odin = (await build({
      ...base,
      exp_name: 'ood_odin',
      postprocessor: { name: 'odin' },
      pipeline: { name: 'test_ood', args: { checkpoint } },
    }).then((p) => p.run())) as Result;
    expect(odin.rows.find((r) => r.dataset === 'nearood')!.AUROC).toBeGreaterThan(0);
    await expect(
      build({
        ...base,
        exp_name: 'bad',
        postprocessor: { name: 'odin' },
        pipeline: { name: 'test_ood', args: { features: join(dir, 'feats2') } },
      }).then((p) => p.run()),
    ).rejects.toThrow(/needs the network/);
  });

  it("test_ood with aps searches the postprocessor section's grid: and writes it into the metrics JSON", async () => {
    await build({ ...base, exp_name: 'feats3', pipeline: { name: 'feat_extract', args: { checkpoint } } }).then((p) => p.run());
    const result = (await build({
      ...base,
      exp_name: 'ood_grid',
      postprocessor: { name: 'knn', args: { K: 50 }, grid: { K: [1, 3] } },
      pipeline: { name: 'test_ood', args: { features: join(dir, 'feats3'), aps: true } },
    }).then((p) => p.run())) as { grid: unknown; aps: { trials: { values: unknown }[] } };
    expect(result.grid).toEqual({ K: [1, 3] });
    expect(result.aps.trials.map((t) => t.values)).toEqual([{ K: 1 }, { K: 3 }]);
  });

  it("eval on the oodkit checkpoint gives test_ood's rows, and writes the same layout", async () => {
    type Result = { out: string; evaluations: { postprocessor: string; rows: { dataset: string; AUROC: number }[] }[] };
    const viaEval = (await build({
      ...base,
      exp_name: 'eval_ckpt',
      postprocessor: { name: 'msp' },
      pipeline: { name: 'eval', args: { checkpoint } },
    }).then((p) => p.run())) as Result;
    const viaTestOod = (await build({
      ...base,
      exp_name: 'ood_msp',
      postprocessor: { name: 'msp' },
      pipeline: { name: 'test_ood', args: { checkpoint } },
    }).then((p) => p.run())) as Result['evaluations'][number];
    expect(viaEval.evaluations.map((e) => e.postprocessor)).toEqual(['msp']);
    expect(viaEval.evaluations[0]!.rows).toEqual(viaTestOod.rows);
    expect(JSON.parse(readFileSync(join(viaEval.out, 'msp__metrics.json'), 'utf8')).rows).toEqual(viaTestOod.rows);
  });

  it('evaluateModel extracts features once for every feature-only method and gives the network to ODIN', async () => {
    const { network } = await loadTrainedNetwork(checkpoint, registry);
    let featurePasses = 0;
    const counted = new Proxy(network, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (key === 'forwardFeatures')
          return (...args: Parameters<Classifier['forwardFeatures']>) => {
            featurePasses++;
            return target.forwardFeatures(...args);
          };
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    try {
      const loaded = await loadBenchmark(base.benchmark, registry, { logger: silentLogger, rng: Rng.fromSeed(0), config: base });
      const splits = [
        loaded.id.train,
        loaded.id.val,
        loaded.id.test,
        loaded.ood.val.dataset,
        ...loaded.ood.near.map((s) => s.dataset),
        ...loaded.ood.far.map((s) => s.dataset),
      ];
      const batchesPerPass = splits.reduce((n, d) => n + Math.ceil(d.length / 500), 0);
      const evaluator = await buildEvaluator(registry, base, { logger: silentLogger, rng: Rng.fromSeed(0), config: base });
      const options = { source: { kind: 'classifier' as const, network: counted }, benchmark: loaded, evaluator, registry, config: base };
      const features = await evaluateModel({
        ...options,
        postprocessors: [{ name: 'msp' }, { name: 'ebo' }, { name: 'knn' }, { name: 'react' }],
      });
      expect(features.evaluations.map((e) => e.postprocessor)).toEqual(['msp', 'ebo', 'knn', 'react']);
      expect(featurePasses).toBe(batchesPerPass);
      featurePasses = 0;
      const odin = await evaluateModel({ ...options, postprocessors: [{ name: 'odin' }] });
      expect(odin.evaluations[0]!.rows.length).toBeGreaterThan(0);
      // ODIN scores through the network (its forward, not forwardFeatures): no feature extraction pass.
      expect(featurePasses).toBeLessThan(batchesPerPass);
    } finally {
      network.dispose();
    }
  });

  it('multi-layer methods run through the one evaluation path: a checkpoint and its feat_extract --layers folder give the same rows', async () => {
    await build({
      ...base,
      exp_name: 'feats_layers',
      pipeline: { name: 'feat_extract', args: { checkpoint, layers: ['block2', 'block3'] } },
    }).then((p) => p.run());
    const folder = await FeatureFolder.open(join(dir, 'feats_layers'));
    expect(folder.layers).toEqual(['penultimate', 'block2', 'block3']);
    type Result = { rows: { dataset: string; AUROC: number }[] };
    const run = async (exp: string, postprocessor: unknown, args: Record<string, unknown>) =>
      (await build({ ...base, exp_name: exp, postprocessor, pipeline: { name: 'test_ood', args } }).then((p) => p.run())) as Result;
    for (const [i, postprocessor] of [
      { name: 'mds', layers: ['block3', 'penultimate'], aggregator: 'fisher' },
      { name: 'dknn', args: { K: 5, layers: ['block2', 'penultimate'] } },
    ].entries()) {
      const viaNet = await run(`ml_net${i}`, postprocessor, { checkpoint });
      const viaFeat = await run(`ml_feat${i}`, postprocessor, { features: join(dir, 'feats_layers') });
      expect(viaNet.rows.map((r) => r.dataset)).toEqual(viaFeat.rows.map((r) => r.dataset));
      viaNet.rows.forEach((r, k) => expect(r.AUROC, `${postprocessor.name} ${r.dataset}`).toBeCloseTo(viaFeat.rows[k]!.AUROC, 9));
    }
    // fused layers are not z alone: block3+z with fisher differs from plain mds somewhere
    const plain = await run('ml_plain', { name: 'mds' }, { features: join(dir, 'feats_layers') });
    const fused = await run(
      'ml_feat0b',
      { name: 'mds', layers: ['block3', 'penultimate'], aggregator: 'fisher' },
      { features: join(dir, 'feats_layers') },
    );
    expect(fused.rows.some((r, k) => Math.abs(r.AUROC - plain.rows[k]!.AUROC) > 1e-6)).toBe(true);
    await expect(run('ml_bad_net', { name: 'mds', layers: ['layer3'] }, { checkpoint })).rejects.toThrow(
      /network 'lenet' has no feature layer 'layer3' \(its layers: block1, block2, block3, penultimate\)/,
    );
    await expect(run('ml_bad_folder', { name: 'mds', layers: ['block1'] }, { features: join(dir, 'feats_layers') })).rejects.toThrow(
      /reads feature layer 'block1', which the feature folder does not hold \(its layers: penultimate, block2, block3\)/,
    );
    await expect(
      build({
        ...base,
        exp_name: 'onnx_layers',
        pipeline: { name: 'feat_extract', args: { onnx: 'model.onnx', layers: ['block3'] } },
      }).then((p) => p.run()),
    ).rejects.toThrow(/pipeline\.args\.layers.*need an oodkit checkpoint \(--checkpoint\): a onnx model \(--onnx\)/s);
  });

  it('evaluateModel extracts z and every requested layer in one pass', async () => {
    const { network } = await loadTrainedNetwork(checkpoint, registry);
    let blockPasses = 0;
    let featurePasses = 0;
    const counted = new Proxy(network, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (key === 'forwardBlocks')
          return (x: Parameters<Classifier['forwardBlocks']>[0]) => {
            blockPasses++;
            return target.forwardBlocks(x);
          };
        if (key === 'forwardFeatures')
          return (...args: Parameters<Classifier['forwardFeatures']>) => {
            featurePasses++;
            return target.forwardFeatures(...args);
          };
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    try {
      const loaded = await loadBenchmark(base.benchmark, registry, { logger: silentLogger, rng: Rng.fromSeed(0), config: base });
      const evaluator = await buildEvaluator(registry, base, { logger: silentLogger, rng: Rng.fromSeed(0), config: base });
      const result = await evaluateModel({
        source: { kind: 'classifier', network: counted },
        benchmark: loaded,
        evaluator,
        registry,
        config: base,
        postprocessors: [
          { name: 'msp' },
          { name: 'knn', layers: ['block3', 'penultimate'], aggregator: 'mean_normalized' },
          { name: 'dknn', args: { K: 5, layers: ['block2'] } },
          { name: 'mds', layers: ['block2'] },
        ],
      });
      expect(result.evaluations.map((e) => e.postprocessor)).toEqual(['msp', 'knn', 'dknn', 'mds']);
      const splits = [
        loaded.id.train,
        loaded.id.val,
        loaded.id.test,
        loaded.ood.val.dataset,
        ...loaded.ood.near.map((s) => s.dataset),
        ...loaded.ood.far.map((s) => s.dataset),
      ];
      expect(blockPasses).toBe(splits.reduce((n, d) => n + Math.ceil(d.length / 500), 0));
      expect(featurePasses).toBe(0);
    } finally {
      network.dispose();
    }
  });

  it('a PyTorch checkpoint without its network is refused by name', () => {
    expect(() => evalSource({ checkpoint: 'model.pth', all: false, aps: false, save_scores: true, batch_size: 500 })).toThrow(ConfigError);
    expect(() => evalSource({ checkpoint: 'model.pth', all: false, aps: false, save_scores: true, batch_size: 500 })).toThrow(/--network/);
    expect(evalSource({ checkpoint: 'model.pth', network: 'lenet', all: false, aps: false, save_scores: true, batch_size: 500 })).toEqual({
      kind: 'torch',
      checkpoint: 'model.pth',
      network: { name: 'lenet' },
    });
    expect(evalSource({ checkpoint: 'run/best.ckpt', all: false, aps: false, save_scores: true, batch_size: 500 }).kind).toBe('trained');
  });

  it('train_oe refuses a config without an outlier set before training', async () => {
    await expect(build({ ...base, trainer: { name: 'oe' }, pipeline: { name: 'train_oe' } })).rejects.toThrow(/train\.outlier/);
  });
});
