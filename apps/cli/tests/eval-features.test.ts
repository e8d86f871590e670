import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { initCompute } from '@oodkit/compute';
import {
  ConfigError,
  Rng,
  UsageError,
  componentModule,
  createOodkitContainer,
  defineComponent,
  readNpy,
  registryOf,
  silentLogger,
  writeNpy,
  type Postprocessor,
} from '@oodkit/core';
import { computeOodMetrics, standardSyntheticLayout, syntheticFeatures, writeFeatureFolder } from '@oodkit/evaluators';
import { runEvalFeaturesCommand, type EvalFeaturesFlags } from '../src/commands/eval-features.js';
import { inputsFrom, parseCommandOverrides } from '../src/shared/options.js';
import { runMetrics } from '../src/commands/metrics.js';
import { main } from '../src/main.js';
import { builtinModules } from '../src/modules.js';

const root = mkdtempSync(join(tmpdir(), 'oodkit-cli-ef-'));
const folder = join(root, 'features');
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  // ID: class clusters; near OOD: between two class means; far OOD: small-norm features.
  const { spec, roles } = standardSyntheticLayout(0.4);
  const data = syntheticFeatures(Rng.fromSeed(11), { numClasses: 6, featureDim: 24, separation: 2.5, ...spec });
  await writeFeatureFolder(folder, { finalLayer: data.finalLayer, splits: data.splits, roles });
});

/** A test-only component that claims to need the network, and one with an argument. */
const fakeNetworkMethod = defineComponent({
  kind: 'postprocessor',
  name: 'needs_net_test',
  description: 'test: needs the network',
  args: z.strictObject({}),
  create: (): Postprocessor => ({
    name: 'needs_net_test',
    needsNetwork: true,
    requires: [],
    setup: async () => undefined,
    setHyperparameters: async () => undefined,
    hyperparameters: () => ({}),
    score: async () => {
      throw new Error('must not be scored');
    },
  }),
});

const withFakeMethod = [...builtinModules, componentModule('cli-test', [fakeNetworkMethod])];

/** `oodkit eval-features` in-process: quiet, on the cpu backend, output in `out`. */
function evalFeatures(
  flags: Partial<EvalFeaturesFlags> & { postprocessor: string },
  options: { out?: string; overrides?: string[]; builtins?: typeof builtinModules; notices?: string[] } = {},
) {
  return runEvalFeaturesCommand(
    { features: folder, ...flags },
    inputsFrom({
      overrides: ['--log_level=silent', '--compute.backend=cpu', ...(options.overrides ?? [])],
      ...(options.out ? { out: options.out } : {}),
    }),
    {
      print: () => undefined,
      notify: (line) => options.notices?.push(line),
      ...(options.builtins ? { builtins: options.builtins } : {}),
    },
  );
}

function parseCsv(path: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  return { header: lines[0]!.split(','), rows: lines.slice(1).map((l) => l.split(',')) };
}

describe('oodkit eval-features (the eval_features pipeline)', () => {
  it('runs every registered postprocessor that needs only features, writing well-formed tables and scores', async () => {
    const registry = registryOf(createOodkitContainer(builtinModules));
    const out = join(root, 'all');
    // Whatever is registered at the time: new methods are covered automatically.
    const registered = registry.names('postprocessor');
    const report = await evalFeatures({ postprocessor: 'all' }, { out });
    const evaluated = report.evaluations.map((e) => e.postprocessor);
    const skipped = report.skipped.map((s) => s.postprocessor);
    expect([...evaluated, ...skipped].sort()).toEqual(registered);
    expect(evaluated.length).toBeGreaterThan(0);
    for (const s of report.skipped) expect(s.reason).toMatch(/needs the network/);
    for (const name of evaluated) {
      const { header, rows } = parseCsv(join(out, `${name}__metrics.csv`));
      expect(header).toEqual(['dataset', 'FPR@95', 'AUROC', 'AUPR_IN', 'AUPR_OUT', 'ACC', 'PRED_ACC']);
      expect(rows.map((r) => r[0])).toEqual(['nearset', 'nearood', 'farset', 'farood']);
      for (const row of rows) {
        for (const cell of row.slice(1)) {
          expect(cell, `${name} ${row[0]}`).toMatch(/^\d{1,3}\.\d\d$/);
          expect(Number(cell)).toBeLessThanOrEqual(100);
        }
      }
      const json = JSON.parse(readFileSync(join(out, `${name}__metrics.json`), 'utf8'));
      expect(json.postprocessor).toBe(name);
      expect(typeof json.hyperparameters).toBe('object');
      for (const split of ['test', 'nearset', 'farset']) {
        const scores = await readNpy(join(out, `${name}__${split}.npy`));
        expect(scores.shape.length, `${name} ${split}`).toBe(1);
        expect(Array.from(scores.data as Float64Array).every(Number.isFinite), `${name} ${split} finite`).toBe(true);
      }
    }
    // Sensible methods separate the synthetic OOD sets clearly.
    for (const name of ['msp', 'mls', 'ebo'].filter((n) => evaluated.includes(n))) {
      const { rows } = parseCsv(join(out, `${name}__metrics.csv`));
      for (const row of rows) expect(Number(row[2]), `${name} ${row[0]} AUROC`).toBeGreaterThan(75);
    }
    const summary = parseCsv(join(out, 'summary.csv'));
    expect(summary.header.slice(0, 2)).toEqual(['postprocessor', 'dataset']);
    expect(summary.rows.length).toBe(4 * evaluated.length);
    // The run folder holds the resolved config like every other pipeline's.
    expect(readFileSync(join(out, 'config.yml'), 'utf8')).toMatch(/name: eval_features/);
  });

  it('scores equal the metrics recomputed from the saved .npy files', async () => {
    const out = join(root, 'msp');
    const report = await evalFeatures({ postprocessor: 'msp' }, { out });
    const id = (await readNpy(join(out, 'msp__test.npy'))).data as Float64Array;
    const far = (await readNpy(join(out, 'msp__farset.npy'))).data as Float64Array;
    const row = report.evaluations[0]!.rows.find((r) => r.dataset === 'farset')!;
    expect(100 * computeOodMetrics(id, far).auroc).toBe(row.AUROC);
  });

  it('searches hyperparameters with --aps', async () => {
    const registry = registryOf(createOodkitContainer(builtinModules));
    // the first method with a real grid that runs on features (network methods are refused on a folder)
    let name: string | undefined;
    for (const c of registry.list('postprocessor')) {
      const grid = c.definition.grid as Record<string, unknown[]> | undefined;
      if (!grid || !Object.values(grid).some((v) => v.length > 1) || c.definition.name === 'odin') continue;
      const pp = await registry.build<Postprocessor>('postprocessor', c.definition.name, {
        logger: silentLogger,
        rng: Rng.fromSeed(0),
        config: {},
      });
      if (!pp.needsNetwork) {
        name = c.definition.name;
        break;
      }
    }
    if (!name) return;
    const out = join(root, 'aps');
    const report = await evalFeatures({ postprocessor: name, aps: true }, { out });
    const json = JSON.parse(readFileSync(join(out, `${name}__metrics.json`), 'utf8'));
    expect(json.aps.trials.length).toBeGreaterThan(1);
    const best = Math.max(...json.aps.trials.map((t: { valAuroc: number }) => t.valAuroc));
    const firstBest = json.aps.trials.find((t: { valAuroc: number }) => t.valAuroc === best);
    expect(json.aps.best).toEqual(firstBest.values);
    for (const [key, value] of Object.entries(firstBest.values)) expect(report.evaluations[0]!.hyperparameters[key]).toEqual(value);
  });

  it('--postprocessor all --aps: every method with a grid is searched, first best kept', async () => {
    const registry = registryOf(createOodkitContainer(builtinModules));
    const out = join(root, 'all-aps');
    const report = await evalFeatures({ postprocessor: 'all', aps: true }, { out });
    let searched = 0;
    for (const evaluation of report.evaluations) {
      const grid = (registry.get('postprocessor', evaluation.postprocessor).grid ?? {}) as Record<string, unknown[]>;
      const combos = Object.values(grid).reduce((n, values) => n * values.length, 1);
      const json = JSON.parse(readFileSync(join(out, `${evaluation.postprocessor}__metrics.json`), 'utf8'));
      if (Object.keys(grid).length === 0) {
        expect(json.aps, evaluation.postprocessor).toBeNull();
        continue;
      }
      // searchGrid may drop combinations that cannot apply (e.g. GEN's M > C), never add any.
      expect(json.aps.trials.length, evaluation.postprocessor).toBeGreaterThan(0);
      expect(json.aps.trials.length, evaluation.postprocessor).toBeLessThanOrEqual(combos);
      const best = Math.max(...json.aps.trials.map((t: { valAuroc: number }) => t.valAuroc));
      expect(json.aps.best, evaluation.postprocessor).toEqual(
        json.aps.trials.find((t: { valAuroc: number }) => t.valAuroc === best).values,
      );
      if (json.aps.trials.length > 1) searched++;
    }
    expect(searched).toBeGreaterThan(0);
  });

  it('--postprocessor.args.K=V sets an argument; the old --args.K=V still does, with a deprecation line', async () => {
    const registry = registryOf(createOodkitContainer(builtinModules));
    if (!registry.has('postprocessor', 'react')) return;
    const report = await evalFeatures(
      { postprocessor: 'react' },
      { out: join(root, 'react'), overrides: ['--postprocessor.args.percentile=95'] },
    );
    expect(report.evaluations[0]!.hyperparameters.percentile).toBe(95);
    const notices: string[] = [];
    const old = await evalFeatures(
      { postprocessor: 'react' },
      { out: join(root, 'react-old'), overrides: ['--args.percentile=80'], notices },
    );
    expect(old.evaluations[0]!.hyperparameters.percentile).toBe(80);
    expect(notices.join('\n')).toMatch(
      /'--args\.percentile' is deprecated, write '--postprocessor\.args\.percentile' \(the old spelling is removed in 0\.2\.0\)/,
    );
  });

  it('refuses a postprocessor that needs the network, with a clear message', async () => {
    const err = await evalFeatures({ postprocessor: 'needs_net_test' }, { out: join(root, 'net'), builtins: withFakeMethod }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/postprocessor 'needs_net_test' needs the network.*trained model/);
  });

  it('unknown postprocessors and bad args are configuration errors before any data is read', async () => {
    const nope = { features: join(root, 'nope') };
    await expect(evalFeatures({ ...nope, postprocessor: 'mps' })).rejects.toThrow(ConfigError);
    await expect(evalFeatures({ ...nope, postprocessor: 'mps' })).rejects.toThrow(/unknown postprocessor 'mps' \(did you mean '\w+'\?\)/);
    await expect(evalFeatures({ ...nope, postprocessor: 'msp' }, { overrides: ['--postprocessor.args.K=5'] })).rejects.toThrow(
      /postprocessor\.args\.K: unknown key/,
    );
    await expect(evalFeatures({ postprocessor: 'all' }, { overrides: ['--args.K=5'] })).rejects.toThrow(/cannot be combined/);
  });

  it('option spellings: --args.* and --backend are renamed with a notice, --grid.* is a short form', () => {
    const { overrides, notices } = parseCommandOverrides(['--args.K=50', '--args.name', 'abc', '--grid.K=[1,2]', '--backend', 'cpu']);
    expect(overrides.map((o) => [o.path, o.text])).toEqual([
      ['postprocessor.args.K', '50'],
      ['postprocessor.args.name', 'abc'],
      ['postprocessor.grid.K', '[1,2]'],
      ['compute.backend', 'cpu'],
    ]);
    expect(notices).toHaveLength(3);
    expect(notices[2]).toMatch(/'--backend' is deprecated, write '--compute\.backend'/);
  });

  it('is wired into the oodkit program (exit code 2 for usage errors)', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['eval-features', '--features', folder, '--postprocessor', 'msp', '--argz.K=1'])).toBe(2);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/unknown key 'argz\.K'|argz/);
      expect(await main(['eval-features', '--postprocessor', 'msp'])).toBe(2);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/needs --features <dir>/);
    } finally {
      stderr.mockRestore();
    }
  });
});

describe('oodkit metrics', () => {
  it('reads .npy confidences and prints the five metrics as JSON', async () => {
    const id = join(root, 'id.npy');
    const ood = join(root, 'ood.npy');
    await writeNpy(id, { data: new Float32Array([0.9, 0.7, 0.5, 0.3]) });
    await writeNpy(ood, { data: new Float64Array([0.8, 0.6, 0.4, 0.2]) });
    const m = await runMetrics({ id, ood });
    expect(m.fpr95).toBe(0.75);
    expect(m.auroc).toBe(0.625);
    expect(m.acc).toBeNull();
    const pred = join(root, 'pred.npy');
    const labels = join(root, 'labels.npy');
    await writeNpy(pred, { data: new Int32Array([1, 2, 3, 4]) });
    await writeNpy(labels, { data: new BigInt64Array([1n, 2n, 0n, 0n]) });
    expect((await runMetrics({ id, ood, idPred: pred, idLabels: labels })).acc).toBe(0.5);

    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await main(['metrics', '--id', id, '--ood', ood])).toBe(0);
      const printed = JSON.parse(String(stdout.mock.calls.at(-1)?.[0]));
      expect(printed).toMatchObject({ fpr95: 0.75, auroc: 0.625, acc: null, detection_error: 0.375, oscr: null, n_id: 4, n_ood: 4 });
      expect(printed.aupr_in).toBeCloseTo(0.6672619047619048, 12);
      // interleaved case, conf range [.2, .9]: AUTC = ½((0 + .2 + .4 + .6)/.7/4 + (.6 + .4 + .2 + 0)/.7/4) (float32 inputs)
      expect(printed.autc).toBeCloseTo(1.2 / 0.7 / 4, 6);
      expect(await main(['metrics', '--id', id, '--ood', ood, '--id-pred', pred, '--id-labels', labels])).toBe(0);
      const full = JSON.parse(String(stdout.mock.calls.at(-1)?.[0]));
      // correct = [1, 1, 0, 0] at conf .9, .7, .5, .3: accuracy at k = 1..4 is 1, 1, 2/3, 1/2
      expect(full.aurra).toBeCloseTo((1 + 1 + 2 / 3 + 1 / 2) / 4, 12);
      expect(Object.keys(full.ccr_at_fpr)).toEqual(['1e-4', '1e-3', '1e-2', '1e-1']);
      expect(full.ccr_at_fpr['1e-1']).toBe(0.25); // threshold = largest OOD conf .8: only .9 (correct) above it
    } finally {
      stdout.mockRestore();
    }
  });

  it('bad input: 2-D arrays, length mismatch, missing files, half of the ACC pair', async () => {
    const id = join(root, 'id2.npy');
    await writeNpy(id, { data: new Float32Array(4), shape: [2, 2] });
    await expect(runMetrics({ id, ood: id })).rejects.toThrow(/id2\.npy: shape \[2, 2\], expected a 1-D array/);
    const ok = join(root, 'ok.npy');
    await writeNpy(ok, { data: new Float32Array([1, 2]) });
    const short = join(root, 'short.npy');
    await writeNpy(short, { data: new Int32Array([1]) });
    await expect(runMetrics({ id: ok, ood: ok, idPred: short, idLabels: short })).rejects.toThrow(
      /short\.npy: 1 predictions for 2 ID scores/,
    );
    await expect(runMetrics({ id: ok, ood: join(root, 'missing.npy') })).rejects.toThrow(/missing\.npy: no such file/);
    await expect(runMetrics({ id: ok, ood: ok, idPred: short })).rejects.toThrow(/go together/);
    expect(existsSync(join(root, 'missing.npy'))).toBe(false);
  });
});
