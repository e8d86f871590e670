import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadRun } from '@oodkit/core';
import { computeModule } from '@oodkit/compute';
import { dataModule } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { trainersModule } from '@oodkit/trainers';
import { FeatureFolder, evaluatorsModule } from '@oodkit/evaluators';
import { sioModule } from '@oodkit/sio';
import { benchFeatureLayers, benchPostprocessors, pipelinesModule, runBenchmark, type BenchSection } from '../src/index.js';

vi.setConfig({ testTimeout: 300_000 });

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
const EXAMPLE = resolve(__dirname, '../../../configs/examples/multilayer_bench.yml');
const dir = mkdtempSync(join(tmpdir(), 'oodkit-multilayer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('configs/examples/multilayer_bench.yml', () => {
  it('validates against the full schema, with the layers every method reads', async () => {
    const { config, app } = await loadRun({ files: [EXAMPLE], builtins });
    const bench = config.value.bench as BenchSection;
    const pps = benchPostprocessors(bench);
    expect(pps.map((p) => p.label)).toEqual(['mds', 'mds@block2+block3+penultimate', 'knn@block3+penultimate', 'dknn', 'mds_ensemble']);
    expect(pps[1]!.aggregator).toBe('fisher');
    expect(benchFeatureLayers(app.registry, pps)).toEqual(['block2', 'block3']);
    // layers of methods that do not read them from the folder are not extracted: nac's coverage
    // layers ('avgpool' is z), mds_ensemble's blocks (it runs through the network)
    const others = benchPostprocessors({
      postprocessors: [{ name: 'nac' }, { name: 'mds_ensemble', args: { layers: ['block1', 'block2'] } }],
      aps: false,
    } as never);
    expect(benchFeatureLayers(app.registry, others)).toEqual([]);
  });

  it("an unknown layer is an error naming the network's layers; so is a method that is not layerwise", async () => {
    const bad = await loadRun({
      files: [EXAMPLE],
      builtins,
      overrides: ['--bench.postprocessors=[{name: mds, layers: [layer3]}, {name: ebo, layers: [block3]}]'],
    }).catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(ConfigError);
    const text = (bad as ConfigError).message + JSON.stringify((bad as ConfigError).issues);
    expect(text).toMatch(
      /bench\.postprocessors\.0\.layers\.0.*unknown layer 'layer3'; the network's layers: block1, block2, block3, penultimate/,
    );
    expect(text).toMatch(/bench\.postprocessors\.1\.layers.*'ebo' does not run per layer/);
  });

  it("a wrapper network at its default backbone is checked against the backbone's layers", async () => {
    const bad = await loadRun({
      files: [EXAMPLE],
      builtins,
      overrides: ['--network={name: conf_branch_net}', '--bench.postprocessors=[{name: mds, layers: [layer3]}]'],
    }).catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(ConfigError);
    expect(JSON.stringify((bad as ConfigError).issues)).toMatch(
      /unknown layer 'layer3'; the network's layers: block1, block2, block3, penultimate/,
    );
  });

  it('runs in oodkit bench (tiny sizes): every multi-layer method evaluated, the layers in the feature folder', async () => {
    const { config, app } = await loadRun({
      files: [EXAMPLE],
      builtins,
      overrides: [
        `--output_dir=${dir}`,
        '--compute={backend: wasm}',
        '--train.epochs=1',
        '--bench.limits={train: 300, val: 100, test: 100, ood: 60}',
        '--bench.postprocessors.3.args.K=5',
        '--bench.postprocessors.2.args.K=5',
      ],
    });
    const result = await runBenchmark(config.value, { registry: app.registry });
    expect(result.failures).toEqual([]);
    expect(result.cells.map((c) => c.postprocessor)).toEqual([
      'mds',
      'mds@block2+block3+penultimate',
      'knn@block3+penultimate',
      'dknn',
      'mds_ensemble',
    ]);
    for (const cell of result.cells) {
      for (const row of cell.evaluation.rows) expect(Number.isFinite(row.AUROC)).toBe(true);
    }
    const products = join(result.groupDir, 'products');
    const [key] = readdirSync(products).filter((n) => n.startsWith('features-') && !n.endsWith('.work'));
    const folder = await FeatureFolder.open(join(products, key!));
    expect(folder.layers).toEqual(['penultimate', 'block2', 'block3']);
    expect(folder.layerDims).toEqual({ block2: 16, block3: 120 });
    expect(existsSync(result.reportPath)).toBe(true);
  });
});
