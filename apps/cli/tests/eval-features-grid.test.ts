import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute } from '@oodkit/compute';
import { ConfigError, Rng, createOodkitContainer, registryOf } from '@oodkit/core';
import { standardSyntheticLayout, syntheticFeatures, writeFeatureFolder } from '@oodkit/evaluators';
import { runEvalFeaturesCommand } from '../src/commands/eval-features.js';
import { inputsFrom } from '../src/shared/options.js';
import { builtinModules } from '../src/modules.js';

const root = mkdtempSync(join(tmpdir(), 'oodkit-cli-grid-'));
const folder = join(root, 'features');
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  const { spec, roles } = standardSyntheticLayout(0.4);
  const data = syntheticFeatures(Rng.fromSeed(5), { numClasses: 6, featureDim: 24, separation: 2.5, ...spec });
  await writeFeatureFolder(folder, { finalLayer: data.finalLayer, splits: data.splits, roles });
});

/** `oodkit eval-features --features <folder> --postprocessor <name> [--aps] <overrides>` in-process. */
function evalFeatures(postprocessor: string, aps: boolean, overrides: string[], out: string, features = folder) {
  return runEvalFeaturesCommand(
    { features, postprocessor, aps },
    inputsFrom({ overrides: ['--log_level=silent', '--compute.backend=cpu', ...overrides], out }),
    { print: () => undefined },
  );
}

describe('eval-features with a configured grid (postprocessor.grid, --grid.K)', () => {
  it('vim --aps --grid.dim=[3,6,12] searches the given dims instead of the built-in {256, 1000}; the metrics JSON records the grid', async () => {
    const out = join(root, 'vim');
    const report = await evalFeatures('vim', true, ['--grid.dim=[3,6,12]'], out);
    const json = JSON.parse(readFileSync(join(out, 'vim__metrics.json'), 'utf8'));
    expect(json.grid).toEqual({ dim: [3, 6, 12] });
    expect(json.aps.trials.map((t: { values: { dim: number } }) => t.values.dim)).toEqual([3, 6, 12]);
    const best = json.aps.trials.reduce((a: { valAuroc: number }, b: { valAuroc: number }) => (b.valAuroc > a.valAuroc ? b : a));
    expect(report.evaluations[0]!.hyperparameters.dim).toBe(best.values.dim);

    // the built-in grid on D = 24: both values fall back to ⌊D/2⌋ = 12, one trial
    const builtin = join(root, 'vim-builtin');
    await evalFeatures('vim', true, [], builtin);
    const builtinJson = JSON.parse(readFileSync(join(builtin, 'vim__metrics.json'), 'utf8'));
    expect(builtinJson.grid).toEqual({ dim: [12] });
  });

  it('a grid for some arguments keeps the built-in lists of the others (gen: gamma given, M built in)', async () => {
    const registry = registryOf(createOodkitContainer(builtinModules));
    const out = join(root, 'gen');
    await evalFeatures('gen', true, ['--postprocessor.grid.gamma=[0.5,2]'], out);
    const json = JSON.parse(readFileSync(join(out, 'gen__metrics.json'), 'utf8'));
    const builtinM = (registry.get('postprocessor', 'gen').grid as { M: number[] }).M.map((m) => Math.min(m, 6));
    expect(json.grid).toEqual({ gamma: [0.5, 2], M: [...new Set(builtinM)] });
  });

  it('bad grids are errors before any data is read', async () => {
    const nowhere = join(root, 'missing');
    const bad = (pp: string, aps: boolean, overrides: string[]) => evalFeatures(pp, aps, overrides, join(root, 'bad'), nowhere);
    await expect(bad('vim', true, ['--grid.dimm=[3]'])).rejects.toThrow(/postprocessor\.grid\.dimm.*did you mean 'dim'/);
    await expect(bad('vim', true, ['--grid.dim=[3,-1]'])).rejects.toThrow(ConfigError);
    // a grid without APS is refused by the pipeline before it reads a feature
    await expect(evalFeatures('vim', false, ['--grid.dim=[3]'], join(root, 'bad'))).rejects.toThrow(/only with APS/);
    await expect(bad('all', true, ['--grid.dim=[3]'])).rejects.toThrow(/one postprocessor/);
  });
});
