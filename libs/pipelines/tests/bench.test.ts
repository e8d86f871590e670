import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, Rng, loadRun, registryOf, createOodkitContainer, silentLogger, writeNpy, type ImageDataset } from '@oodkit/core';
import { computeModule } from '@oodkit/compute';
import { dataModule } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { trainersModule } from '@oodkit/trainers';
import { evaluatorsModule } from '@oodkit/evaluators';
import { sioModule } from '@oodkit/sio';
import {
  RunLockedError,
  benchRunId,
  lockResultsDir,
  pipelinesModule,
  runBenchmark,
  summaryTableRows,
  type BenchEvent,
} from '../src/index.js';

const builtins = [
  computeModule,
  dataModule,
  networksModule,
  postprocessorsModule,
  trainersModule,
  evaluatorsModule,
  sioModule,
  pipelinesModule,
];

/** A tiny but complete matrix: baseline and +SIO (user .npy files), one seed, three methods. */
function benchYaml(dir: string, extra = ''): string {
  return `benchmark: mnist
seed: 0
output_dir: ${dir}
exp_name: run
compute: { backend: wasm }
network: { name: lenet, args: { num_classes: 10, in_channels: 1 } }
train: { epochs: 1, batch_size: 64, val_batch_size: 256 }
sio:
  enabled: true
  real_ratio: 0.75
  synthetic: { images: ${join(dir, 'images.npy')}, labels: ${join(dir, 'labels.npy')} }
bench:
  variants: [baseline, sio]
  seeds: [0]
  postprocessors: [msp, { name: ebo, grid: { temperature: [1, 10] } }, { name: knn, args: { K: 5 }, aps: false }]
  limits: { train: 512, val: 128, test: 256, ood: 128 }
  report: { sample_grid: 4 }
${extra}`;
}

describe('oodkit bench pipeline', () => {
  let dir: string;
  let configFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oodkit-bench-'));
    // "Synthetic" images in the SIO format: real MNIST digits stand in for a generator's output.
    const registry = registryOf(createOodkitContainer([dataModule]));
    const mnist = await registry.build<ImageDataset>(
      'dataset',
      { name: 'mnist', args: { split: 'test' } },
      { logger: silentLogger, rng: Rng.fromSeed(0), config: {} },
    );
    const idx = Array.from({ length: 200 }, (_, i) => i + 5000);
    await writeNpy(join(dir, 'images.npy'), { data: await mnist.readImages(idx), shape: [200, 28, 28, 1] });
    await writeNpy(join(dir, 'labels.npy'), { data: BigInt64Array.from(idx.map((i) => BigInt(mnist.labels[i]!))) });
    configFile = join(dir, 'bench.yml');
    writeFileSync(configFile, benchYaml(dir));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const load = async (file = configFile) => (await loadRun({ files: [file], builtins })).config.value;

  it('a crash mid-run keeps finished cells; the re-run reuses them and completes the report', async () => {
    const config = await load();
    const { app } = await loadRun({ files: [configFile], builtins });
    let evaluations = 0;
    const crash = (event: BenchEvent) => {
      if (event.type === 'cell' && ++evaluations === 4) throw new Error('simulated crash');
    };
    await expect(runBenchmark(config, { registry: app.registry, onEvent: crash })).rejects.toThrow('simulated crash');
    const outDir = join(dir, 'run', benchRunId(config));
    expect(existsSync(join(outDir, 'report.html'))).toBe(false);

    const ends: { label: string; cached: boolean }[] = [];
    const result = await runBenchmark(config, {
      registry: app.registry,
      onEvent: (e) => {
        if (e.type === 'stage-end') ends.push({ label: e.label, cached: e.cached });
      },
    });
    const cached = (label: string) => ends.find((e) => e.label === label)?.cached;
    expect(cached('train base/baseline/s0')).toBe(true);
    expect(cached('features base/baseline/s0')).toBe(true);
    expect(cached('msp base/baseline/s0')).toBe(true);
    expect(cached('knn base/baseline/s0')).toBe(true);
    // The crash came right after the 4th evaluation (msp on the +SIO model) was stored.
    expect(cached('train base/sio/s0')).toBe(true);
    expect(cached('msp base/sio/s0')).toBe(true);
    expect(cached('ebo base/sio/s0')).toBe(false);
    expect(cached('knn base/sio/s0')).toBe(false);

    expect(result.outDir).toBe(outDir);
    expect(readlinkSync(join(dir, 'run', 'latest'))).toBe(benchRunId(config));
    expect(existsSync(join(dir, 'run', 'products'))).toBe(true);
    expect(result.failures).toEqual([]);
    expect(result.summary.rows.map((r) => r.postprocessor)).toEqual(['msp', 'ebo', 'knn']);
    for (const row of result.summary.rows) {
      expect(row.nearAuroc.baseline!.mean).toBeGreaterThan(0);
      expect(row.nearAuroc.sio!.mean).toBeGreaterThan(0);
      expect(row.idAcc.baseline!.n).toBe(1);
      // ACC is the classifier's: one value per model, whatever the method (OpenOOD's Evaluator)
      expect(row.idAcc.baseline!.mean).toBe(result.summary.rows[0]!.idAcc.baseline!.mean);
      expect(row.idAcc.sio!.mean).toBe(result.summary.rows[0]!.idAcc.sio!.mean);
      // these three methods predict the classifier's argmax, so PRED_ACC equals ACC
      expect(row.predAcc.baseline!.mean).toBe(row.idAcc.baseline!.mean);
    }
    // bench.postprocessors entries take a grid; the one searched is in each result's metrics JSON
    const ebo = result.cells.find((c) => c.postprocessor === 'ebo')!.evaluation;
    expect(ebo.grid).toEqual({ temperature: [1, 10] });
    expect(ebo.aps!.trials.map((t) => t.values)).toEqual([{ temperature: 1 }, { temperature: 10 }]);
    expect(result.cells.find((c) => c.postprocessor === 'knn')!.evaluation.grid).toBeNull();
    const html = readFileSync(result.reportPath, 'utf8');
    for (const method of ['msp', 'ebo', 'knn']) expect(html).toContain(`data-method="${method}"`);
    expect(readdirSync(join(outDir, 'tables')).sort()).toEqual([
      'base_baseline_ebo.csv',
      'base_baseline_knn.csv',
      'base_baseline_msp.csv',
      'base_sio_ebo.csv',
      'base_sio_knn.csv',
      'base_sio_msp.csv',
    ]);
    expect(readFileSync(join(outDir, 'tables', 'base_sio_msp.csv'), 'utf8').split('\n')[0]).toBe(
      'dataset,FPR@95,AUROC,AUPR_IN,AUPR_OUT,ACC,PRED_ACC',
    );
    expect(html).toContain('PRED_ACC is the accuracy of the predictions each method makes itself');
    expect(readFileSync(join(outDir, 'config.yml'), 'utf8')).toContain('real_ratio: 0.75');

    // A third run recomputes nothing.
    const third: boolean[] = [];
    await runBenchmark(config, { registry: app.registry, onEvent: (e) => e.type === 'stage-end' && third.push(e.cached) });
    expect(third.every(Boolean)).toBe(true);
  });

  it('another config gets its own results folder, reuses the trained models and shows what APS chose', async () => {
    const first = await load();
    const { app } = await loadRun({ files: [configFile], builtins });
    const firstRun = join(dir, 'run', benchRunId(first));
    await runBenchmark(first, { registry: app.registry });
    const firstSummary = readFileSync(join(firstRun, 'summary.csv'), 'utf8');

    // What a plugin's generated config adds (a postprocessor: block), another method list and report
    // settings: results differ, training does not.
    const second = join(dir, 'second.yml');
    writeFileSync(
      second,
      benchYaml(dir)
        .replace(
          'postprocessors: [msp, { name: ebo, grid: { temperature: [1, 10] } }, { name: knn, args: { K: 5 }, aps: false }]',
          'postprocessors: [msp, react]',
        )
        .replace('report: { sample_grid: 4 }', 'report: { sample_grid: 3, histogram_bins: 20 }') +
        'postprocessor: { name: ebo, args: { temperature: 2 } }\n',
    );
    const config = await load(second);
    const ends: { label: string; cached: boolean }[] = [];
    const result = await runBenchmark(config, {
      registry: app.registry,
      onEvent: (e) => e.type === 'stage-end' && ends.push({ label: e.label, cached: e.cached }),
    });
    expect(result.outDir).not.toBe(firstRun);
    expect(ends.filter((e) => e.label.startsWith('train ')).map((e) => e.cached)).toEqual([true, true]);
    expect(ends.filter((e) => e.label.startsWith('features ')).map((e) => e.cached)).toEqual([true, true]);
    expect(ends.find((e) => e.label === 'react base/baseline/s0')?.cached).toBe(false);
    // The first config's results are untouched; latest points to the run that finished last.
    expect(readFileSync(join(firstRun, 'summary.csv'), 'utf8')).toBe(firstSummary);
    expect(readlinkSync(join(dir, 'run', 'latest'))).toBe(benchRunId(config));

    const react = result.summary.hyperparameters.find((h) => h.postprocessor === 'react' && h.variant === 'baseline')!;
    expect(react.searched).toBe(true);
    expect(react.display).toMatch(/^percentile=\d+$/);
    expect(react.perSeed).toEqual([{ seed: 0, values: { percentile: expect.any(Number) } }]);
    const { head, rows } = summaryTableRows(result.summary);
    expect(head.at(-1)).toBe('hyperparameters base → SIO');
    const reactRow = rows.find((r) => r[0] === 'react')!;
    expect(reactRow.at(-1)).toMatch(/^percentile=\d+( → percentile=\d+)?$/);
    expect(rows.find((r) => r[0] === 'msp')!.at(-1)).toBe('–');
    const csv = readFileSync(join(result.outDir, 'summary.csv'), 'utf8').split('\n');
    expect(csv[0]).toMatch(/,hyperparameters_baseline,hyperparameters_sio$/);
    expect(csv.find((l) => l.startsWith('base,react,'))).toMatch(/,percentile=\d+,percentile=\d+$/);
    const html = readFileSync(result.reportPath, 'utf8');
    expect(html).toContain('Hyperparameters per method and seed');
  });

  it('refuses a results folder another run holds', async () => {
    const config = await load();
    const { app } = await loadRun({ files: [configFile], builtins });
    const unlock = await lockResultsDir(join(dir, 'run'));
    try {
      await expect(runBenchmark(config, { registry: app.registry })).rejects.toThrow(RunLockedError);
    } finally {
      await unlock();
    }
  });

  it('a bad config fails before any work, listing every problem', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, benchYaml(dir).replace('[msp, {', '[msq, {').replace('seeds: [0]', 'seeds: [-1]').replace('epochs: 1', 'epochs: 0'));
    const error = await loadRun({ files: [bad], builtins }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['bench.postprocessors.0.name', 'bench.seeds.0', 'train.epochs']);
    expect((error as ConfigError).message).toMatch(/did you mean 'msp'/);
    expect((error as ConfigError).issues.every((i) => i.file === bad && typeof i.line === 'number')).toBe(true);
  });
});
