import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { computeModule, initCompute, tf } from '@oodkit/compute';
import { Rng, createOodkitContainer, readNpy, registryOf, silentLogger } from '@oodkit/core';
import { dataModule, loadBenchmark } from '@oodkit/data';
import type { OodEvaluationJson } from '@oodkit/evaluators';
import { fileModelIO } from '@oodkit/networks';
import { datasetBatches, type EvaluationStageResult } from '@oodkit/pipelines';
import { createEvaluator } from '../src/api/create-evaluator.js';
import { runEvalCommand } from '../src/commands/eval.js';
import { main } from '../src/main.js';
import { inputsFrom } from '../src/shared/options.js';
import { captureOutput } from './capture-output.js';

/**
 * `oodkit eval --onnx` / `--tfjs`. fixtures/openood-lenet/lenet.onnx is lenet.pth (OpenOOD's LeNet,
 * trained in PyTorch) exported by tools/reference/export_openood_checkpoint_onnx.py, so every feature-based
 * method must give the metrics `oodkit eval --checkpoint lenet.pth --network lenet` gives (and OpenOOD's,
 * reference.json), while the methods that need the network are skipped, saying why.
 */
const fixture = fileURLToPath(new URL('./fixtures/openood-lenet/', import.meta.url));
const reference = JSON.parse(readFileSync(join(fixture, 'reference.json'), 'utf8')) as {
  methods: Record<string, { rows: Record<string, Record<string, number>> }>;
};
const METRICS = ['FPR@95', 'AUROC', 'AUPR_IN', 'AUPR_OUT', 'ACC', 'PRED_ACC'] as const;
const io = captureOutput();

/**
 * Scores that this fixture leaves to float rounding, whatever the runtime: residual fits on the ID val
 * split (12 images), so its covariance has rank ≤ 12 while the residual space it takes is the last
 * 84 − 42 eigenvectors, a basis of part of the zero eigenvalue's ≥ 72-dim eigenspace that only
 * rounding picks (onnxruntime's and tfjs's features differ by ~1e-6, enough to change it).
 */
const ROUNDING_DEFINED = new Set(['residual']);

const root = mkdtempSync(join(tmpdir(), 'oodkit-eval-onnx-tfjs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const benchmarkFlags = () => [
  '--benchmark',
  join(fixture, 'benchmark.yml'),
  '--data_dir',
  join(fixture, 'data'),
  '--log_level=silent',
  '--compute.backend=cpu',
];

function metricsOf(out: string, name: string): OodEvaluationJson {
  return JSON.parse(readFileSync(join(out, `${name}__metrics.json`), 'utf8')) as OodEvaluationJson;
}

function expectSameRows(got: OodEvaluationJson, want: { rows: readonly { dataset: string }[] | Record<string, unknown> }, name: string) {
  const wanted = Array.isArray(want.rows)
    ? Object.fromEntries((want.rows as Record<string, number | string>[]).map((r) => [r.dataset as string, r]))
    : (want.rows as Record<string, Record<string, number>>);
  expect(got.rows.map((r) => r.dataset)).toEqual(Object.keys(wanted));
  for (const row of got.rows)
    for (const m of METRICS)
      expect(Math.abs(row[m] - (wanted[row.dataset] as Record<string, number>)[m]!), `${name} ${row.dataset} ${m}`).toBeLessThan(0.05);
}

describe('oodkit eval --onnx on the ONNX export of an OpenOOD checkpoint', () => {
  let checkpoint: EvaluationStageResult;
  const out = join(root, 'onnx');

  beforeAll(async () => {
    checkpoint = await runEvalCommand(
      { checkpoint: join(fixture, 'lenet.pth'), network: 'lenet', postprocessor: 'all' },
      inputsFrom({ overrides: benchmarkFlags(), out: join(root, 'checkpoint') }),
      { print: () => undefined },
    );
    // The command prints every method's table; the files are what is checked.
    const quiet = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await main(['eval', '--onnx', join(fixture, 'lenet.onnx'), '--postprocessor', 'all', ...benchmarkFlags(), '-o', out])).toBe(0);
    } finally {
      quiet.mockRestore();
    }
  }, 300_000);

  it('gives every feature-based method the metrics of the PyTorch checkpoint (and of OpenOOD), within 0.05 pp', () => {
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      evaluated: string[];
      skipped: { postprocessor: string; reason: string }[];
    };
    expect(summary.evaluated).toEqual(
      expect.arrayContaining(['msp', 'mls', 'ebo', 'gen', 'gradnorm', 'react', 'knn', 'mds', 'rmds', 'vim']),
    );
    for (const name of summary.evaluated) {
      if (ROUNDING_DEFINED.has(name)) continue;
      const fromCheckpoint = checkpoint.evaluations.find((e) => e.postprocessor === name);
      expect(fromCheckpoint, `${name} ran on the checkpoint`).toBeDefined();
      expectSameRows(metricsOf(out, name), fromCheckpoint!, `${name} (onnx vs checkpoint)`);
      if (reference.methods[name]) expectSameRows(metricsOf(out, name), reference.methods[name]!, `${name} (onnx vs OpenOOD)`);
    }
  });

  it('skips exactly the methods the checkpoint ran that need the network, with the ONNX reason', () => {
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      evaluated: string[];
      skipped: { postprocessor: string; reason: string }[];
    };
    const onlyOnCheckpoint = checkpoint.evaluations.map((e) => e.postprocessor).filter((n) => !summary.evaluated.includes(n));
    expect(onlyOnCheckpoint).toEqual(expect.arrayContaining(['odin', 'iodin']));
    for (const name of onlyOnCheckpoint) {
      const skip = summary.skipped.find((s) => s.postprocessor === name);
      expect(skip?.reason, name).toMatch(/which an ONNX model cannot provide/);
    }
    expect(summary.skipped.find((s) => s.postprocessor === 'odin')!.reason).toMatch(/^needs input gradients/);
  });

  it('refuses a network method named alone (exit 2, saying why)', async () => {
    expect(
      await main(['eval', '--onnx', join(fixture, 'lenet.onnx'), '--postprocessor', 'odin', ...benchmarkFlags(), '-o', join(root, 'odin')]),
    ).toBe(2);
    expect(io.err).toMatch(/postprocessor 'odin' needs input gradients, which an ONNX model cannot provide/);
  });
});

describe('oodkit eval: bad model flags (exit 2, naming the flag)', () => {
  it('a missing file, two models, --network with an ONNX model, an unknown output name', async () => {
    expect(await main(['eval', '--onnx', join(root, 'missing.onnx'), '--postprocessor', 'msp', ...benchmarkFlags()])).toBe(2);
    expect(io.err).toMatch(/--onnx .*missing\.onnx: no such file/);
    expect(await main(['eval', '--tfjs', join(root, 'missing', 'model.json'), '--postprocessor', 'msp', ...benchmarkFlags()])).toBe(2);
    expect(io.err).toMatch(/--tfjs .*model\.json: no such file/);
    io.err = '';
    expect(
      await main([
        'eval',
        '--onnx',
        join(fixture, 'lenet.onnx'),
        '--checkpoint',
        join(fixture, 'lenet.pth'),
        '--postprocessor',
        'msp',
        ...benchmarkFlags(),
      ]),
    ).toBe(2);
    expect(io.err).toMatch(/one model only: got --checkpoint and --onnx/);
    io.err = '';
    expect(
      await main(['eval', '--onnx', join(fixture, 'lenet.onnx'), '--features', root, '--postprocessor', 'msp', ...benchmarkFlags()]),
    ).toBe(2);
    expect(io.err).toMatch(/one model only: got --onnx and --features/);
    io.err = '';
    expect(
      await main(['eval', '--onnx', join(fixture, 'lenet.onnx'), '--network', 'lenet', '--postprocessor', 'msp', ...benchmarkFlags()]),
    ).toBe(2);
    expect(io.err).toMatch(/--network names the architecture of a PyTorch --checkpoint; an --onnx model needs none/);
    io.err = '';
    const args = [
      'eval',
      '--onnx',
      join(fixture, 'lenet.onnx'),
      '--logits-output',
      'scores',
      '--postprocessor',
      'msp',
      ...benchmarkFlags(),
    ];
    expect(await main([...args, '-o', join(root, 'bad-output')])).toBe(2);
    expect(io.err).toMatch(/logits_output \(--logits-output\): 'scores' is not a value of .*lenet\.onnx \(graph outputs: logits/);
    io.err = '';
    expect(
      await main([
        'eval',
        '--checkpoint',
        join(fixture, 'lenet.pth'),
        '--network',
        'lenet',
        '--threads',
        '2',
        '--postprocessor',
        'msp',
        ...benchmarkFlags(),
      ]),
    ).toBe(2);
    expect(io.err).toMatch(/--threads applies to --onnx or --tfjs models, not to --checkpoint/);
  }, 60_000);
});

describe('createEvaluator({ onnx })', () => {
  it("returns the ONNX model's table for a feature-based method: the checkpoint's (OpenOOD's) metrics", async () => {
    const ev = await createEvaluator({
      onnx: join(fixture, 'lenet.onnx'),
      benchmark: join(fixture, 'benchmark.yml'),
      dataDir: join(fixture, 'data'),
      postprocessor: 'ebo',
      config: { 'compute.backend': 'cpu', log_level: 'silent' },
    });
    const rows = await ev.evalOod();
    expectSameRows({ ...ev.result!, rows }, reference.methods.ebo!, 'ebo (createEvaluator onnx vs OpenOOD)');
  }, 60_000);
});

describe('oodkit eval --tfjs: a LayersModel is a full network', () => {
  it('runs ODIN: its test scores are those of the perturbation computed by hand on the same weights', async () => {
    const dir = join(root, 'tfjs-model');
    const model = tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: [28, 28, 3] }),
        tf.layers.dense({ units: 8, activation: 'relu', name: 'embedding', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        // A softmax on the last layer: the logits oodkit uses are its pre-activation.
        tf.layers.dense({
          units: 4,
          activation: 'softmax',
          name: 'classifier',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
        }),
      ],
    });
    await model.save(fileModelIO(join(dir, 'model.json')));
    const [k1, b1] = model.getLayer('embedding').getWeights();
    const [k2, b2] = model.getLayer('classifier').getWeights();
    const out = join(root, 'tfjs-odin');
    const temperature = 10;
    const noise = 0.05;
    expect(
      await main([
        'eval',
        '--tfjs',
        join(dir, 'model.json'),
        '--features-output',
        'embedding',
        '--postprocessor',
        'odin',
        `--postprocessor.args.temperature=${temperature}`,
        `--postprocessor.args.noise=${noise}`,
        ...benchmarkFlags(),
        '-o',
        out,
      ]),
    ).toBe(0);
    const scores = (await readNpy(join(out, 'odin__test.npy'))).data as Float32Array | Float64Array;

    // The test split as the benchmark preprocesses it, and ODIN written out on the raw weights.
    const registry = registryOf(createOodkitContainer([computeModule, dataModule]));
    const bench = await loadBenchmark(join(fixture, 'benchmark.yml'), registry, {
      logger: silentLogger,
      rng: Rng.fromSeed(0),
      config: { data_dir: join(fixture, 'data') },
    });
    const logitsOf = (x: tf.Tensor) => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(tf.reshape(x, [x.shape[0]!, -1]), k1!), b1!)), k2!), b2!);
    const std = tf.tensor1d([63.0 / 255.0, 62.1 / 255.0, 66.7 / 255.0]);
    const expected: number[] = [];
    const plain: number[] = [];
    for await (const batch of datasetBatches(bench.id.test, bench.preprocess.test, 10)) {
      const conf = tf.tidy(() => {
        const loss = (x: tf.Tensor) => tf.neg(tf.mean(tf.max(tf.logSoftmax(tf.div(logitsOf(x), temperature)), 1)));
        const grad = tf.grad(loss)(batch.x);
        const sign = tf.sub(tf.mul(tf.cast(tf.greaterEqual(grad, 0), 'float32'), 2), 1);
        const perturbed = tf.sub(batch.x, tf.mul(tf.div(sign, std), noise));
        return tf.max(tf.softmax(tf.div(logitsOf(perturbed), temperature)), 1);
      });
      const unperturbed = tf.tidy(() => tf.max(tf.softmax(tf.div(logitsOf(batch.x), temperature)), 1));
      expected.push(...(await conf.data()));
      plain.push(...(await unperturbed.data()));
      tf.dispose([conf, unperturbed, batch.x, batch.y]);
    }
    model.dispose();
    std.dispose();
    expect(scores.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) expect(scores[i]).toBeCloseTo(expected[i]!, 5);
    // The perturbation moved the scores (so the check above is not that of a tempered MSP).
    expect(Math.max(...expected.map((e, i) => Math.abs(e - plain[i]!)))).toBeGreaterThan(1e-3);
    expect(metricsOf(out, 'odin').hyperparameters).toMatchObject({ temperature, noise });

    // createEvaluator({ tfjs }) is the same evaluation.
    const ev = await createEvaluator({
      tfjs: join(dir, 'model.json'),
      featuresOutput: 'embedding',
      benchmark: join(fixture, 'benchmark.yml'),
      dataDir: join(fixture, 'data'),
      postprocessor: { name: 'odin', args: { temperature, noise } },
      config: { 'compute.backend': 'cpu', log_level: 'silent' },
    });
    expect(await ev.evalOod()).toEqual(metricsOf(out, 'odin').rows);
  }, 120_000);
});
