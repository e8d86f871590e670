import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import {
  Rng,
  UsageError,
  createOodkitContainer,
  readNpy,
  registryOf,
  silentLogger,
  type Batch,
  type Classifier,
  type FeatureSplit,
  type Postprocessor,
  type PostprocessorSetupData,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import {
  FeatureFolder,
  FeatureFolderSource,
  NetworkSource,
  OodEvaluator,
  aggregateCsv,
  aggregateRuns,
  computeOodMetrics,
  evaluateOod,
  evaluatorsModule,
  extractFeatures,
  formatFixed2,
  gridCombinations,
  metricsCsv,
  searchHyperparameters,
  standardSyntheticLayout,
  syntheticFeatures,
  writeFeatureFolder,
  writeOodEvaluation,
  type FeatureSplits,
} from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'oodkit-eval-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/**
 * A test postprocessor with fitted state and a hyperparameter: conf = max logit − shrink·‖z − μ_train‖₁.
 * Its scores are recomputed on the host below, independently of tf.
 */
class ShrunkMaxLogit implements Postprocessor {
  readonly name = 'shrunk_max_logit';
  readonly needsNetwork: boolean;
  readonly requires = ['train'] as const;
  private shrink: number;
  private mean?: Float32Array;
  private layer?: ScoringModel['finalLayer'];
  readonly calls: string[] = [];

  constructor(
    shrink = 0,
    needsNetwork = false,
    private readonly predShift = 0,
  ) {
    this.shrink = shrink;
    this.needsNetwork = needsNetwork;
  }

  async setup(model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    this.calls.push('setup');
    this.layer = model.finalLayer;
    this.mean = hostMean(data.train!);
  }

  async setHyperparameters(values: Record<string, unknown>): Promise<void> {
    this.calls.push(`set:${JSON.stringify(values)}`);
    if ('shrink' in values) this.shrink = values.shrink as number;
  }

  hyperparameters(): Record<string, unknown> {
    return { shrink: this.shrink };
  }

  async score(batch: ScoreBatch): Promise<ScoreResult> {
    const z = (await batch.features.data()) as Float32Array;
    const n = batch.features.shape[0];
    const result = hostScores(this.layer!, this.mean!, this.shrink, z, n);
    const c = this.layer!.numClasses;
    return { conf: result.conf, pred: result.pred.map((p) => (p + this.predShift) % c) };
  }
}

function hostMean(split: FeatureSplit): Float32Array {
  const mean = new Float32Array(split.dim);
  for (let i = 0; i < split.count; i++) for (let j = 0; j < split.dim; j++) mean[j]! += split.features[i * split.dim + j]! / split.count;
  return mean;
}

function hostScores(layer: ScoringModel['finalLayer'], mean: Float32Array, shrink: number, z: Float32Array, n: number): ScoreResult {
  const { numClasses: c, featureDim: d, weight, bias } = layer;
  const pred = new Int32Array(n);
  const conf = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    for (let k = 0; k < c; k++) {
      let l = bias[k]!;
      for (let j = 0; j < d; j++) l += weight[k * d + j]! * z[i * d + j]!;
      if (l > best) {
        best = l;
        pred[i] = k;
      }
    }
    let dist = 0;
    for (let j = 0; j < d; j++) dist += Math.abs(z[i * d + j]! - mean[j]!);
    conf[i] = best - shrink * dist;
  }
  return { pred, conf };
}

let folderCounter = 0;
async function makeFolder(extra: { csid?: boolean } = {}): Promise<{ dir: string; data: ReturnType<typeof syntheticFeatures> }> {
  const dir = join(root, `ff${folderCounter++}`);
  const { spec, roles } = standardSyntheticLayout(0.5);
  const sizes = { ...spec.sizes, ...(extra.csid ? { shifted: 60 } : {}) };
  const kinds = { ...spec.kinds, ...(extra.csid ? { shifted: 'id' as const } : {}) };
  const data = syntheticFeatures(Rng.fromSeed(3), { numClasses: 4, featureDim: 8, sizes, kinds });
  await writeFeatureFolder(dir, {
    finalLayer: data.finalLayer,
    splits: data.splits,
    roles: { ...roles, ...(extra.csid ? { csid: ['shifted'] } : {}) },
  });
  return { dir, data };
}

function splitOf(data: ReturnType<typeof syntheticFeatures>, name: string): FeatureSplit {
  return data.splits.find((s) => s.name === name)!;
}

describe('APS', () => {
  it('enumerates the grid with the first parameter varying fastest', () => {
    expect(gridCombinations({ a: [1, 2], b: ['x', 'y', 'z'] })).toEqual([
      { a: 1, b: 'x' },
      { a: 2, b: 'x' },
      { a: 1, b: 'y' },
      { a: 2, b: 'y' },
      { a: 1, b: 'z' },
      { a: 2, b: 'z' },
    ]);
    expect(gridCombinations({})).toEqual([{}]);
    expect(() => gridCombinations({ a: [] })).toThrow(/'a' has no values/);
  });

  it('keeps the best AUROC, first wins on ties, and leaves the best values set', async () => {
    const pp = new ShrunkMaxLogit();
    const aurocByShrink: Record<number, number> = { 0: 0.7, 1: 0.9, 2: 0.9, 3: 0.8 };
    const result = await searchHyperparameters(
      pp,
      { shrink: [0, 1, 2, 3] },
      async (p) => aurocByShrink[p.hyperparameters().shrink as number]!,
    );
    expect(result.best).toEqual({ shrink: 1 });
    expect(result.bestAuroc).toBe(0.9);
    expect(result.trials.map((t) => t.auroc)).toEqual([0.7, 0.9, 0.9, 0.8]);
    expect(pp.hyperparameters()).toEqual({ shrink: 1 });
    expect(pp.calls.at(-1)).toBe('set:{"shrink":1}');
  });

  it('through the evaluator: picks the shrink with the best val AUROC, recomputed independently', async () => {
    const { dir, data } = await makeFolder();
    const source = new FeatureFolderSource(await FeatureFolder.open(dir), 64);
    const pp = new ShrunkMaxLogit();
    const grid = { shrink: [0, 0.5, 2] };
    const evaluation = await evaluateOod({ postprocessor: pp, source, apsGrid: grid });
    const mean = hostMean(splitOf(data, 'train'));
    const valAuroc = grid.shrink.map((s) => {
      const id = splitOf(data, 'val');
      const ood = splitOf(data, 'oodval');
      return computeOodMetrics(
        hostScores(data.finalLayer, mean, s, id.features, id.count).conf,
        hostScores(data.finalLayer, mean, s, ood.features, ood.count).conf,
      ).auroc;
    });
    const bestIndex = valAuroc.indexOf(Math.max(...valAuroc));
    expect(evaluation.aps!.trials.map((t) => t.auroc)).toEqual(valAuroc);
    expect(evaluation.hyperparameters).toEqual({ shrink: grid.shrink[bestIndex] });
  });
});

describe('evaluateOod', () => {
  it('rows per near/far dataset plus unweighted means; metrics equal an independent host computation', async () => {
    const { dir, data } = await makeFolder();
    const source = new FeatureFolderSource(await FeatureFolder.open(dir), 50);
    const numTensors = tf.memory().numTensors;
    const evaluation = await evaluateOod({ postprocessor: new ShrunkMaxLogit(0.1), source });
    expect(tf.memory().numTensors).toBe(numTensors);
    expect(evaluation.rows.map((r) => r.dataset)).toEqual(['nearset', 'nearood', 'farset', 'farood']);
    const mean = hostMean(splitOf(data, 'train'));
    const test = splitOf(data, 'test');
    const id = hostScores(data.finalLayer, mean, 0.1, test.features, test.count);
    for (const name of ['nearset', 'farset']) {
      const ood = splitOf(data, name);
      const expected = computeOodMetrics(id.conf, hostScores(data.finalLayer, mean, 0.1, ood.features, ood.count).conf, {
        idPred: id.pred,
        idLabels: test.labels,
      });
      const row = evaluation.rows.find((r) => r.dataset === name)!;
      expect(row.auroc).toBeCloseTo(expected.auroc, 12);
      expect(row.fpr95).toBeCloseTo(expected.fpr95, 12);
      expect(row.auprIn).toBeCloseTo(expected.auprIn, 12);
      expect(row.auprOut).toBeCloseTo(expected.auprOut, 12);
      // this method predicts the classifier's argmax, so both accuracies agree
      expect(row.acc).toBe(expected.acc);
      expect(row.predAcc).toBe(expected.acc);
    }
    expect(evaluation.idAccuracy).toBeGreaterThan(0.8);
    expect(evaluation.rows.every((r) => r.auroc > 0.6)).toBe(true);
    expect(evaluation.scores.map((s) => s.name)).toEqual(['test', 'nearset', 'farset']);
  });

  it("ACC is the classifier's accuracy in every row; PRED_ACC is the postprocessor's own", async () => {
    const { dir, data } = await makeFolder({ csid: true });
    const source = new FeatureFolderSource(await FeatureFolder.open(dir), 7);
    // predicts argmax + 1 (mod C): its own accuracy differs from the classifier's
    const evaluation = await evaluateOod({ postprocessor: new ShrunkMaxLogit(0, false, 1), source, fsood: true });
    const mean = hostMean(splitOf(data, 'train'));
    const idSplits = [splitOf(data, 'test'), splitOf(data, 'shifted')];
    let correct = 0;
    let shiftedCorrect = 0;
    let total = 0;
    for (const s of idSplits) {
      const { pred } = hostScores(data.finalLayer, mean, 0, s.features, s.count);
      pred.forEach((p, i) => {
        if (p === s.labels[i]) correct++;
        if ((p + 1) % data.finalLayer.numClasses === s.labels[i]) shiftedCorrect++;
      });
      total += s.count;
    }
    expect(evaluation.idAccuracy).toBe(correct / total);
    expect(evaluation.predAccuracy).toBe(shiftedCorrect / total);
    expect(evaluation.idAccuracy).not.toBe(evaluation.predAccuracy);
    for (const row of evaluation.rows) {
      expect(row.acc).toBe(correct / total);
      expect(row.predAcc).toBe(shiftedCorrect / total);
    }
  });

  it('unweighted group means', async () => {
    const { dir } = await makeFolder();
    const folder = await FeatureFolder.open(dir);
    const twoNear: FeatureSplits = { ...folder.splits, near: ['nearset', 'farset'], far: [] };
    const source = new FeatureFolderSource(folder);
    Object.defineProperty(source, 'splits', { get: () => twoNear });
    const evaluation = await evaluateOod({ postprocessor: new ShrunkMaxLogit(), source });
    const [a, b, m] = evaluation.rows;
    expect(m!.dataset).toBe('nearood');
    expect(m!.auroc).toBeCloseTo((a!.auroc + b!.auroc) / 2, 15);
    expect(m!.fpr95).toBeCloseTo((a!.fpr95 + b!.fpr95) / 2, 15);
  });

  it('full-spectrum mode (fsood) counts CSID splits as ID (scores and accuracy) and reports each alone', async () => {
    const { dir, data } = await makeFolder({ csid: true });
    const source = new FeatureFolderSource(await FeatureFolder.open(dir));
    const evaluation = await evaluateOod({ postprocessor: new ShrunkMaxLogit(0, false, 1), source, fsood: true });
    const mean = hostMean(splitOf(data, 'train'));
    const idSplits = [splitOf(data, 'test'), splitOf(data, 'shifted')];
    const idConf = idSplits.flatMap((s) => [...hostScores(data.finalLayer, mean, 0, s.features, s.count).conf]);
    const far = splitOf(data, 'farset');
    expect(evaluation.rows.find((r) => r.dataset === 'farset')!.auroc).toBeCloseTo(
      computeOodMetrics(idConf, hostScores(data.finalLayer, mean, 0, far.features, far.count).conf).auroc,
      12,
    );
    expect(evaluation.scores.map((s) => s.name)).toEqual(['test', 'shifted', 'nearset', 'farset']);
    // The CSID split alone: the classifier's accuracy and the method's (argmax + 1) on 'shifted' only.
    const shifted = splitOf(data, 'shifted');
    const { pred } = hostScores(data.finalLayer, mean, 0, shifted.features, shifted.count);
    const acc = pred.filter((p, i) => p === shifted.labels[i]).length / shifted.count;
    const predAcc = pred.filter((p, i) => (p + 1) % data.finalLayer.numClasses === shifted.labels[i]).length / shifted.count;
    expect(evaluation.fsood).toBe(true);
    expect(evaluation.csid).toEqual([{ dataset: 'shifted', count: shifted.count, acc, predAcc }]);
    const written = await writeOodEvaluation(join(root, 'fsood-out'), evaluation, { saveScores: false });
    const csv = readFileSync(join(root, 'fsood-out', 'shrunk_max_logit__csid.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('dataset,FPR@95,AUROC,AUPR_IN,AUPR_OUT,ACC,PRED_ACC');
    expect(csv[1]).toBe(`shifted,-,-,-,-,${formatFixed2(100 * acc)},${formatFixed2(100 * predAcc)}`);
    const json = JSON.parse(readFileSync(written.json, 'utf8'));
    expect(json.csid).toEqual([{ dataset: 'shifted', count: shifted.count, ACC: 100 * acc, PRED_ACC: 100 * predAcc }]);
  });

  it("without fsood the CSID splits are not scored: ID is the test split alone (OpenOOD's eval_ood)", async () => {
    const { dir, data } = await makeFolder({ csid: true });
    const source = new FeatureFolderSource(await FeatureFolder.open(dir));
    const evaluation = await evaluateOod({ postprocessor: new ShrunkMaxLogit(), source });
    const mean = hostMean(splitOf(data, 'train'));
    const test = splitOf(data, 'test');
    const far = splitOf(data, 'farset');
    const idConf = hostScores(data.finalLayer, mean, 0, test.features, test.count).conf;
    expect(evaluation.rows.find((r) => r.dataset === 'farset')!.auroc).toBeCloseTo(
      computeOodMetrics(idConf, hostScores(data.finalLayer, mean, 0, far.features, far.count).conf).auroc,
      12,
    );
    const { pred } = hostScores(data.finalLayer, mean, 0, test.features, test.count);
    expect(evaluation.idAccuracy).toBe(pred.filter((p, i) => p === test.labels[i]).length / test.count);
    expect(evaluation.scores.map((s) => s.name)).toEqual(['test', 'nearset', 'farset']);
    expect(evaluation.csid).toEqual([]);
    expect(evaluation.fsood).toBe(false);
  });

  it('the registered ood evaluator passes fsood through', async () => {
    const { dir } = await makeFolder({ csid: true });
    const registry = registryOf(createOodkitContainer([evaluatorsModule]));
    const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };
    const evaluator = await registry.build<OodEvaluator>('evaluator', { name: 'ood', args: { fsood: true } }, ctx);
    const evaluation = await evaluator.evaluate(new ShrunkMaxLogit(), new FeatureFolderSource(await FeatureFolder.open(dir)));
    expect(evaluation.csid.map((r) => r.dataset)).toEqual(['shifted']);
  });

  it('refuses a postprocessor that needs the network on features, and a missing setup split', async () => {
    const { dir } = await makeFolder();
    const source = new FeatureFolderSource(await FeatureFolder.open(dir));
    const err = await evaluateOod({ postprocessor: new ShrunkMaxLogit(0, true), source }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/'shrunk_max_logit' needs the network.*feature folder holds only penultimate features/);
    const folder = await FeatureFolder.open(dir);
    const noTrain = { ...folder.splits, train: undefined };
    const src2 = new FeatureFolderSource(folder);
    Object.defineProperty(src2, 'splits', { get: () => noTrain });
    const origSetup = src2.setupSplit.bind(src2);
    src2.setupSplit = async (role) => (role === 'train' ? undefined : origSetup(role));
    await expect(evaluateOod({ postprocessor: new ShrunkMaxLogit(), source: src2 })).rejects.toThrow(
      /fits on the ID train split, but the split map names no 'train'/,
    );
  });

  it('is built by the registry as evaluator "ood" and uses the registered grid only with aps', async () => {
    const registry = registryOf(createOodkitContainer([evaluatorsModule]));
    expect(registry.names('evaluator')).toContain('ood');
    const evaluator = await registry.build<OodEvaluator>(
      'evaluator',
      { name: 'ood', args: { aps: true } },
      { logger: silentLogger, rng: Rng.fromSeed(0), config: {} },
    );
    expect(evaluator).toBeInstanceOf(OodEvaluator);
    expect(evaluator.args).toEqual({ aps: true, tpr: 0.95, save_scores: true, fsood: false });
    await expect(
      registry.build('evaluator', { name: 'ood', args: { apss: true } }, { logger: silentLogger, rng: Rng.fromSeed(0), config: {} }),
    ).rejects.toThrow(/unknown key 'apss'/);
  });
});

describe('reports', () => {
  it('formats two decimals like Python (exact ties to even)', () => {
    const cases: [number, string][] = [
      [12.125, '12.12'],
      [12.375, '12.38'],
      [2.675, '2.67'],
      [1.005, '1.00'],
      [0.5, '0.50'],
      [-12.125, '-12.12'],
      [99.995, '100.00'],
      [100, '100.00'],
      [33.333333, '33.33'],
    ];
    for (const [x, s] of cases) expect(formatFixed2(x), String(x)).toBe(s);
  });

  it('writes CSV with OpenOOD columns ×100, JSON with hyperparameters, and per-split .npy scores', async () => {
    const { dir } = await makeFolder();
    const source = new FeatureFolderSource(await FeatureFolder.open(dir));
    const evaluation = await evaluateOod({ postprocessor: new ShrunkMaxLogit(0.25), source });
    const out = join(root, 'report');
    const written = await writeOodEvaluation(out, evaluation);
    const csv = readFileSync(written.csv, 'utf8').trim().split('\n');
    expect(csv[0]).toBe('dataset,FPR@95,AUROC,AUPR_IN,AUPR_OUT,ACC,PRED_ACC');
    expect(csv.map((l) => l.split(',')[0])).toEqual(['dataset', 'nearset', 'nearood', 'farset', 'farood']);
    const near = evaluation.rows[0]!;
    expect(csv[1]).toBe(
      ['nearset', near.fpr95, near.auroc, near.auprIn, near.auprOut, near.acc, near.predAcc]
        .map((v, i) => (i === 0 ? v : formatFixed2(100 * (v as number))))
        .join(','),
    );
    expect(metricsCsv(evaluation.rows)).toBe(readFileSync(written.csv, 'utf8'));
    const json = JSON.parse(readFileSync(written.json, 'utf8'));
    expect(json.postprocessor).toBe('shrunk_max_logit');
    expect(json.hyperparameters).toEqual({ shrink: 0.25 });
    expect(json.rows[0].AUROC).toBeCloseTo(100 * near.auroc, 10);
    const testScores = await readNpy(join(out, 'shrunk_max_logit__test.npy'));
    expect(testScores.dtype).toBe('float64');
    expect(testScores.data).toEqual(evaluation.scores[0]!.conf);
    expect((await readNpy(join(out, 'shrunk_max_logit__farset.pred.npy'))).dtype).toBe('int32');
  });

  it('aggregates runs: sorted by name, mean and population std, "mean ± std" cells', () => {
    const row = (dataset: string, v: number) => ({
      dataset,
      'FPR@95': v,
      AUROC: v + 1,
      AUPR_IN: v + 2,
      AUPR_OUT: v + 3,
      ACC: 90,
      PRED_ACC: 89,
    });
    const runs = [
      { run: 's2', rows: [row('cifar100', 30), row('nearood', 30)] },
      { run: 's0', rows: [row('cifar100', 10), row('nearood', 12)] },
      { run: 's1', rows: [row('cifar100', 20), row('nearood', 21)] },
    ];
    const agg = aggregateRuns(runs);
    expect(agg[0]!.mean['FPR@95']).toBeCloseTo(20, 12);
    // population std of 10, 20, 30 = sqrt(200/3)
    expect(agg[0]!.std['FPR@95']).toBeCloseTo(Math.sqrt(200 / 3), 12);
    expect(agg[0]!.std.ACC).toBe(0);
    expect(agg[1]!.mean.AUROC).toBeCloseTo(22, 12);
    const csv = aggregateCsv(agg).split('\n');
    expect(csv[0]).toBe('dataset,FPR@95,AUROC,AUPR_IN,AUPR_OUT,ACC,PRED_ACC');
    expect(csv[1]).toBe('cifar100,20.00 ± 8.16,21.00 ± 8.16,22.00 ± 8.16,23.00 ± 8.16,90.00 ± 0.00,89.00 ± 0.00');
    expect(() => aggregateRuns([runs[0]!, { run: 's9', rows: [row('tin', 1), row('nearood', 1)] }])).toThrow(
      /run 's9' has datasets \[tin, nearood\]/,
    );
    expect(() => aggregateRuns([])).toThrow(/no run/);
  });
});

describe('network source', () => {
  /** A linear "network": z = relu(x flattened), logits = zWᵀ + b — enough of Classifier for feature extraction. */
  function linearNet(layer: ScoringModel['finalLayer']): Classifier {
    const d = layer.featureDim;
    const w = tf.tensor2d(layer.weight, [layer.numClasses, d]);
    const b = tf.tensor1d(layer.bias);
    const head = (z: tf.Tensor2D) => tf.add(tf.matMul(z, w, false, true), b) as tf.Tensor2D;
    const features = (x: tf.Tensor4D) => tf.relu(tf.reshape(x, [x.shape[0], d])) as tf.Tensor2D;
    return {
      name: 'linear',
      inputShape: [1, 1, d],
      numClasses: layer.numClasses,
      featureDim: d,
      forward: (x) => tf.tidy(() => head(features(x))),
      forwardFeatures: (x) =>
        tf.tidy(() => {
          const z = features(x);
          return { logits: head(z), features: z };
        }),
      forwardBlocks: () => {
        throw new Error('unused');
      },
      forwardThreshold: () => {
        throw new Error('unused');
      },
      head: (z) => tf.tidy(() => head(z)),
      finalLayer: () => ({ weight: w.clone(), bias: b.clone() }),
      trainableVariables: () => [],
      namedVariables: () => new Map(),
      dispose: () => {
        w.dispose();
        b.dispose();
      },
    } as Classifier;
  }

  function* batches(split: FeatureSplit, size: number): Generator<Batch> {
    for (let s = 0; s < split.count; s += size) {
      const n = Math.min(size, split.count - s);
      yield {
        x: tf.tensor4d(split.features.subarray(s * split.dim, (s + n) * split.dim), [n, 1, 1, split.dim]),
        y: tf.tensor1d(split.labels.subarray(s, s + n), 'int32'),
        indices: Int32Array.from({ length: n }, (_, i) => s + i),
      };
    }
  }

  it('extracts features and scores like the feature folder, without leaking tensors', async () => {
    const { dir, data } = await makeFolder();
    const folder = await FeatureFolder.open(dir);
    const net = linearNet(data.finalLayer);
    const before = tf.memory().numTensors;
    const train = splitOf(data, 'train');
    const extracted = await extractFeatures(net, batches(train, 37), 'train');
    expect(extracted.count).toBe(train.count);
    expect(extracted.features).toEqual(train.features); // synthetic features are already ≥ 0, relu is identity
    expect(extracted.labels).toEqual(train.labels);
    const source = new NetworkSource(net, folder.splits, (name) => batches(splitOf(data, name), 41));
    const viaNet = await evaluateOod({ postprocessor: new ShrunkMaxLogit(0.1), source });
    const viaFolder = await evaluateOod({ postprocessor: new ShrunkMaxLogit(0.1), source: new FeatureFolderSource(folder) });
    expect(viaNet.rows).toEqual(viaFolder.rows);
    expect(viaNet.scores.map((s) => s.labels)).toEqual(viaFolder.scores.map((s) => s.labels));
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });
});
