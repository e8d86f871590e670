import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadRun } from '@oodkit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGrid, validateGrid } from '../src/lifecycle/grid.js';
import { postprocessorsModule } from '../src/module.js';
import { odinArgs } from '../src/postprocessors/odin.js';
import { vimArgs } from '../src/postprocessors/vim.js';

const dir = mkdtempSync(join(tmpdir(), 'oodkit-grid-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, yaml: string): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

const load = (file: string, overrides: string[] = []) => loadRun({ files: [file], overrides, builtins: [postprocessorsModule] });

async function issuesOf(promise: Promise<unknown>): Promise<string[]> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
}

describe('validateGrid', () => {
  it('accepts lists of valid values and parses them', () => {
    expect(validateGrid({ dim: [21, 42, 63] }, vimArgs, 'vim', 'postprocessor.grid')).toEqual([]);
    expect(parseGrid({ temperature: [1, 1000], noise: [0.0014] }, odinArgs, 'odin', 'g')).toEqual({
      temperature: [1, 1000],
      noise: [0.0014],
    });
  });

  it('unknown argument: error with the closest name, and the OpenOOD _list spelling recognised', () => {
    const [typo] = validateGrid({ dimm: [3] }, vimArgs, 'vim', 'postprocessor.grid');
    expect(typo).toEqual({
      path: 'postprocessor.grid.dimm',
      message: expect.stringMatching(/unknown argument 'dimm' \(did you mean 'dim'\?\); vim's arguments: dim/),
    });
    const [list] = validateGrid({ dim_list: [3] }, vimArgs, 'vim', 'postprocessor.grid');
    expect(list!.message).toMatch(/grid keys are argument names: 'dim'; OpenOOD's postprocessor_sweep writes 'dim_list'/);
  });

  it('a value outside the schema is an error naming the value, the argument and its position', () => {
    const issues = validateGrid({ dim: [21, 0, 'x'] }, vimArgs, 'vim', 'postprocessor.grid');
    expect(issues.map((i) => i.path)).toEqual(['postprocessor.grid.dim.1', 'postprocessor.grid.dim.2']);
    expect(issues[0]!.message).toMatch(/^0 is not a valid value of 'dim' for vim: /);
    expect(issues[1]!.message).toMatch(/^"x" is not a valid value of 'dim' for vim: /);
  });

  it('a grid that is not a mapping, or a key without a non-empty list, is an error', () => {
    expect(validateGrid([1, 2], vimArgs, 'vim', 'g')[0]!.message).toMatch(/expected a mapping/);
    expect(validateGrid({ dim: [] }, vimArgs, 'vim', 'g')[0]).toEqual({ path: 'g.dim', message: expect.stringMatching(/non-empty list/) });
    expect(validateGrid({ dim: 21 }, vimArgs, 'vim', 'g')[0]!.path).toBe('g.dim');
    expect(() => parseGrid({ dim: [0] }, vimArgs, 'vim', 'g')).toThrow(ConfigError);
  });
});

describe('postprocessor.grid in config', () => {
  it('a postprocessor section takes grid: (validated, kept in the resolved config)', async () => {
    const run = await load(configFile('ok.yml', 'postprocessor: {name: vim, grid: {dim: [21, 42, 63]}}\n'));
    expect(run.config.value.postprocessor).toEqual({ name: 'vim', args: { dim: 256 }, grid: { dim: [21, 42, 63] } });
  });

  it('grid keys and values are checked against the named method', async () => {
    const file = configFile('bad.yml', 'postprocessor: {name: vim, grid: {dimm: [2], }}\n');
    expect(await issuesOf(load(file))).toEqual([
      expect.stringMatching(/^postprocessor\.grid\.dimm: unknown argument 'dimm' \(did you mean 'dim'\?\)/),
    ]);
    const bad = configFile('bad2.yml', 'postprocessor: {name: knn, grid: {K: [50, -1]}}\n');
    expect(await issuesOf(load(bad))).toEqual([
      expect.stringMatching(/^postprocessor\.grid\.K\.1: -1 is not a valid value of 'K' for knn/),
    ]);
  });

  it("--postprocessor.grid.K=[...] overrides are typed by the method's schema, also on the name-only shorthand", async () => {
    const file = configFile('short.yml', 'postprocessor: knn\n');
    const run = await load(file, ['--postprocessor.grid.K=[10,20]']);
    expect(run.config.value.postprocessor).toEqual({ name: 'knn', args: { K: 50 }, grid: { K: [10, 20] } });
    expect((await issuesOf(load(file, ['--postprocessor.grid.K=[0]']))).join('\n')).toMatch(/postprocessor\.grid\.K/);
  });
});
