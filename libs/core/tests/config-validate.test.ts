import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  applyOverridesCollecting,
  RegistryError,
  componentSection,
  createAppContainer,
  createSchemaLookup,
  defineComponent,
  libraryModule,
  loadConfig,
  resolveConfig,
  saveResolvedConfig,
  schemaSection,
  stringifyConfig,
  validateConfig,
  type AppContainer,
} from '../src/index.js';
import { writeFiles } from './fixtures/write-files.js';

const msp = defineComponent({
  kind: 'postprocessor',
  name: 'msp',
  description: 'maximum softmax probability',
  args: z.strictObject({ temperature: z.number().positive().default(1) }),
  create: () => ({}),
});
const lenet = defineComponent({
  kind: 'network',
  name: 'lenet',
  description: 'LeNet',
  args: z.strictObject({ num_classes: z.number().int().positive(), width: z.number().int().default(6) }),
  create: () => ({}),
});
const datasetSection = schemaSection(
  'dataset',
  z.strictObject({ name: z.string(), num_classes: z.number().int().positive(), batch_size: z.number().int().positive().default(128) }),
  'in-distribution data',
);
const testModule = libraryModule('test-lib', {
  components: [msp, lenet],
  sections: [
    datasetSection,
    componentSection('benchmark', 'postprocessor', 'a test component key', { extra: { search: z.boolean().default(false) } }),
  ],
});

async function app(): Promise<AppContainer> {
  return createAppContainer({ builtins: [testModule] });
}

async function resolveTexts(texts: Record<string, string>, overrides: string[] = []) {
  const a = await app();
  const fs = writeFiles(texts);
  const files = Object.keys(texts).map((name) => fs.path(name));
  const loaded = loadConfig({ files, overrides, schema: createSchemaLookup(a.registry, a.sections) });
  return { loaded, app: a, fs, resolve: () => resolveConfig(loaded, a.registry, a.sections) };
}

describe('validation', () => {
  it('fills core and component defaults and keeps the written order', async () => {
    const { resolve } = await resolveTexts({
      'c.yml':
        'dataset: {name: d, num_classes: 10}\nnetwork: {name: lenet, args: {num_classes: "@{dataset.num_classes}"}}\npostprocessor: msp\n',
    });
    const { value } = resolve();
    expect(Object.keys(value).slice(0, 3)).toEqual(['dataset', 'network', 'postprocessor']);
    expect(value).toMatchObject({
      dataset: { name: 'd', num_classes: 10, batch_size: 128 },
      network: { name: 'lenet', args: { num_classes: 10, width: 6 } },
      postprocessor: { name: 'msp', args: { temperature: 1 } },
      seed: 0,
      output_dir: 'results',
      plugins: [],
      compute: { backend: 'auto' },
      log_level: 'info',
    });
    expect(value.exp_name).toBeUndefined();
  });

  it('reports every problem at once with file, line, key path and expectation', async () => {
    const { resolve, fs } = await resolveTexts({
      'base.yml': 'dataset:\n  name: d\n  num_classes: 10\nseed: 1.5\n',
      'method.yml': 'postprocessor:\n  name: msp\n  args:\n    temprature: 3\nnetwrok: {name: lenet}\ncompute: {backend: gpu}\n',
    });
    let error: unknown;
    try {
      resolve();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    const brief = issues.map((i) => [i.file && i.file.split('/').pop(), i.line, i.path]);
    expect(brief).toEqual([
      ['base.yml', 4, 'seed'],
      ['method.yml', 4, 'postprocessor.args.temprature'],
      ['method.yml', 5, 'netwrok'],
      ['method.yml', 6, 'compute.backend'],
    ]);
    expect(issues[0]!.message).toMatch(/int/);
    expect(issues[1]!.message).toMatch(/unknown key 'temprature' \(did you mean 'temperature'\?\)/);
    expect(issues[2]!.message).toMatch(/unknown top-level key 'netwrok' \(did you mean 'network'\?\)/);
    expect(issues[3]!.message).toMatch(/auto/);
    expect((error as ConfigError).message).toContain(`${fs.path('method.yml')}:5: netwrok:`);
    expect((error as ConfigError).exitCode).toBe(2);
  });

  it('component sections: unknown name with suggestion, missing name, extra keys, wrong args type', async () => {
    const { loaded, app: a } = await resolveTexts({
      'c.yml': 'postprocessor: {name: mps}\nnetwork: {args: {}}\nbenchmark: {name: msp, serch: true, search: 3}\ntrainer: 5\n',
    });
    const issues = validateConfig(loaded, a.registry, a.sections);
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath['postprocessor.name']).toMatch(/unknown postprocessor 'mps' \(did you mean 'msp'\?\); registered: msp/);
    expect(byPath['network.name']).toMatch(/missing/);
    expect(byPath['network.args.num_classes']).toBeUndefined(); // no args checked without a name
    expect(byPath['benchmark.serch']).toMatch(/unknown key 'serch' \(did you mean 'search'\?\); valid keys: name, args, search/);
    expect(byPath['benchmark.search']).toMatch(/boolean/);
    expect(byPath['trainer']).toMatch(/expected \{ name/);
    // the absent required `dataset` section has no line; every other issue has one
    expect(byPath['dataset']).toBe('required: in-distribution data');
    expect(issues.filter((i) => i.path !== 'dataset').every((i) => i.line !== undefined)).toBe(true);
  });

  it('a required arg without default is reported at the section', async () => {
    const { loaded, app: a } = await resolveTexts({ 'c.yml': 'dataset: {name: x, num_classes: 2}\nnetwork: lenet\n' });
    const issues = validateConfig(loaded, a.registry, a.sections);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'network.args.num_classes', line: 2 });
  });

  it('overrides of args the file omits are typed by the component schema', async () => {
    const { resolve } = await resolveTexts({ 'c.yml': 'dataset: {name: d, num_classes: 2}\npostprocessor: {name: msp}\n' }, [
      '--postprocessor.args.temperature=1000',
      '--seed=4',
      '--compute.backend=cpu',
    ]);
    expect(resolve().value).toMatchObject({ postprocessor: { args: { temperature: 1000 } }, seed: 4, compute: { backend: 'cpu' } });
  });

  it('a component given by name only can still have its args overridden', async () => {
    const { resolve, loaded } = await resolveTexts({ 'c.yml': 'dataset: {name: d, num_classes: 2}\npostprocessor: msp\n' }, [
      '--postprocessor.args.temperature=5',
    ]);
    expect(resolve().value.postprocessor).toEqual({ name: 'msp', args: { temperature: 5 } });
    expect(loaded.sources.get('postprocessor.name')?.line).toBe(2);
    // without a schema that knows the key, a string is not silently turned into a mapping
    await expect(resolveTexts({ 'c.yml': 'exp_name: x\n' }, ['--exp_name.args.t=5'])).rejects.toThrow(
      /'exp_name' is a string, not a mapping/,
    );
  });

  it('a failed override leaves the config as it was (no half-created sections)', async () => {
    const a = await app();
    const loaded = loadConfig({ files: [writeFiles({ 'c.yml': 'postprocessor: msp\n' }).path('c.yml')] });
    const { config, issues } = applyOverridesCollecting(
      loaded,
      ['--postprocessor.args.temperature=hot', '--network.args.width=3'],
      createSchemaLookup(a.registry, a.sections),
    );
    expect(issues.map((i) => i.message)).toEqual([
      "expected a number, got 'hot'",
      "unknown key 'network.args.width': 'network' names no network yet (set --network=<name> first)",
    ]);
    expect(config.value).toEqual({ postprocessor: 'msp' });
  });

  it('unknown override keys get suggestions from the registered sections', async () => {
    await expect(resolveTexts({ 'c.yml': 'postprocessor: {name: msp}\n' }, ['--sed=4'])).rejects.toThrow(
      /unknown key 'sed' \(did you mean 'seed'\?\)/,
    );
    await expect(resolveTexts({ 'c.yml': 'postprocessor: {name: msp}\n' }, ['--postprocessor.args.tmp=4'])).rejects.toThrow(
      /unknown key 'postprocessor.args.tmp'/,
    );
  });

  it('a key contributed twice names both providers', async () => {
    const other = libraryModule('other-lib', { sections: [schemaSection('dataset', z.string(), 'x')] });
    await expect(createAppContainer({ builtins: [testModule, other] })).rejects.toThrow(RegistryError);
    await expect(createAppContainer({ builtins: [testModule, other] })).rejects.toThrow(
      /config key 'dataset' is contributed twice: by 'test-lib' and by 'other-lib'/,
    );
  });
});

describe('saving', () => {
  it('writes config.yml atomically, loadable back to the same value, literal @{ kept literal', async () => {
    const { resolve, fs } = await resolveTexts({ 'c.yml': 'exp_name: "a@@{b}"\ndataset: {name: d, num_classes: 3}\npostprocessor: msp\n' });
    const resolved = resolve();
    expect(resolved.value.exp_name).toBe('a@{b}');
    const path = await saveResolvedConfig(join(fs.dir, 'out', 'run1'), resolved);
    const text = readFileSync(path, 'utf8');
    expect(text).toBe(stringifyConfig(resolved.value));
    expect(text).not.toMatch(/[&*]\w/); // no anchors or aliases
    const again = loadConfig({ files: [path] });
    expect(again.value).toEqual(resolved.value);
    // the temp file was renamed, not left behind; writing again replaces the file
    await saveResolvedConfig(join(fs.dir, 'out', 'run1'), { seed: 9 });
    expect(readdirSync(join(fs.dir, 'out', 'run1'))).toEqual(['config.yml']);
    expect(readFileSync(path, 'utf8')).toBe('seed: 9\n');
  });
});

describe('fallback sections', () => {
  it("core's generic dataset section is replaced by a library's own, without a collision", async () => {
    const core = await createAppContainer({ builtins: [] });
    expect(core.sections.provider('dataset')).toBe('@oodkit/core');
    const withLib = await createAppContainer({ builtins: [testModule] });
    expect(withLib.sections.provider('dataset')).toBe('test-lib');
    expect(withLib.sections.keys().filter((k) => k === 'dataset')).toHaveLength(1);
  });

  it('the generic dataset section types its known keys and allows others', async () => {
    const core = await createAppContainer({ builtins: [] });
    const loaded = loadConfig({ files: [writeFiles({ 'c.yml': 'dataset: {name: mnist, num_classes: 0, extra: [1]}\n' }).path('c.yml')] });
    const issues = validateConfig(loaded, core.registry, core.sections);
    expect(issues.map((i) => [i.path, i.line])).toEqual([['dataset.num_classes', 1]]);
  });
});
