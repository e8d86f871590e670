import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  PluginError,
  createAppContainer,
  isContainerModule,
  loadPlugins,
  loadRun,
  pluginSpecsOf,
  readConfigFiles,
  silentLogger,
  Rng,
} from '../src/index.js';
import { writeFiles } from './fixtures/write-files.js';

const fixtures = fileURLToPath(new URL('./fixtures/plugins/', import.meta.url));

async function failure(promise: Promise<unknown>): Promise<PluginError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(PluginError);
    return error as PluginError;
  }
  throw new Error('expected a PluginError');
}

describe('loadPlugins', () => {
  it('loads a plugin folder through its package.json and finds its ContainerModule', async () => {
    const [plugin] = await loadPlugins(['./good-plugin'], fixtures);
    expect(plugin!.entry).toBe(join(fixtures, 'good-plugin', 'index.ts'));
    expect(plugin!.modules).toHaveLength(1);
    expect(isContainerModule(plugin!.modules[0])).toBe(true);
  });

  it('registers the plugin components and sections before anything is built', async () => {
    const app = await createAppContainer({ builtins: [], plugins: [{ spec: './good-plugin', baseDir: fixtures }] });
    expect(app.registry.names('postprocessor')).toEqual(['fixture_scaled_max']);
    expect(app.registry.provider('postprocessor', 'fixture_scaled_max')).toBe('oodkit-fixture-good-plugin');
    expect(app.sections.get('fixture')?.description).toBe('test plugin settings');
    const built = await app.registry.build<{ score(l: number[]): number }>(
      'postprocessor',
      { name: 'fixture_scaled_max', args: { factor: 3 } },
      { logger: silentLogger, rng: Rng.fromSeed(0), config: {} },
    );
    expect(built.score([1, 5, 2])).toBe(15);
  });

  it('a path without ./ is used when no package has that name', async () => {
    const [plugin] = await loadPlugins(['good-plugin'], fixtures);
    expect(plugin!.path).toBe(join(fixtures, 'good-plugin'));
  });

  it('a missing plugin is reported by name', async () => {
    const error = await failure(loadPlugins(['./does-not-exist'], fixtures));
    expect(error.plugin).toBe('./does-not-exist');
    expect(error.message).toMatch(/^plugin '\.\/does-not-exist': not found/);
    expect(error.exitCode).toBe(2);
    expect((await failure(loadPlugins(['oodkit-no-such-package-xyz'], fixtures))).message).toMatch(
      /no package 'oodkit-no-such-package-xyz' is installed/,
    );
  });

  it('a plugin that throws on import is reported with the cause', async () => {
    const error = await failure(loadPlugins(['./throwing-plugin.ts'], fixtures));
    expect(error.message).toMatch(/plugin '\.\/throwing-plugin\.ts': failed while importing .*boom while importing the plugin/);
    expect((error.cause as Error).message).toBe('boom while importing the plugin');
  });

  it('a plugin without a ContainerModule lists what it exports', async () => {
    const error = await failure(loadPlugins(['./no-module-plugin.ts'], fixtures));
    expect(error.message).toMatch(/exports no inversify ContainerModule \(exports: answer, helper\)/);
  });

  it('all failing plugins are reported together', async () => {
    const error = await failure(loadPlugins(['./missing-a', './good-plugin', './no-module-plugin.ts'], fixtures));
    expect(error.message).toMatch(/2 plugins failed/);
    expect(error.message).toMatch(/'\.\/missing-a'/);
    expect(error.message).toMatch(/'\.\/no-module-plugin\.ts'/);
  });

  it('colliding registrations are blamed on the plugin that collides', async () => {
    const error = await failure(
      createAppContainer({ builtins: [], plugins: ['./good-plugin', './duplicate-plugin.ts'], baseDir: fixtures }),
    );
    expect(error.plugin).toBe('./duplicate-plugin.ts');
    expect(error.message).toMatch(/registered twice: by 'oodkit-fixture-good-plugin' and by 'oodkit-fixture-duplicate'/);
  });

  it('a package-name plugin resolves from node_modules (core itself collides with the builtin core sections)', async () => {
    const error = await failure(createAppContainer({ builtins: [], plugins: ['@oodkit/core'], baseDir: fixtures }));
    expect(error.plugin).toBe('@oodkit/core');
    expect(error.message).toMatch(/config key 'seed' is contributed twice/);
  });

  it('a ContainerModule that throws while loading is reported by plugin', async () => {
    const error = await failure(createAppContainer({ builtins: [], plugins: ['./load-throws-plugin.ts'], baseDir: fixtures }));
    expect(error.message).toMatch(
      /plugin '\.\/load-throws-plugin\.ts': its ContainerModule failed to load: cannot register: missing licence key/,
    );
  });
});

describe('plugins from a config', () => {
  it('paths are relative to the file that declared them; command-line ones to cwd', async () => {
    const fs = writeFiles({ 'sub/a.yml': `plugins: ['${join(fixtures, 'good-plugin')}', ./local]\n` });
    const loaded = readConfigFiles([fs.path('sub/a.yml')]);
    expect(pluginSpecsOf(loaded, '/elsewhere')).toEqual([
      { spec: join(fixtures, 'good-plugin'), baseDir: join(fs.dir, 'sub') },
      { spec: './local', baseDir: join(fs.dir, 'sub') },
    ]);
  });

  it('loadRun loads config plugins before typing overrides and validating', async () => {
    const fs = writeFiles({
      'plugins/p.yml': `plugins: ['${join(fixtures, 'good-plugin')}']\n`,
      'run.yml': 'postprocessor: {name: fixture_scaled_max}\nfixture: {level: 3}\n',
    });
    const run = await loadRun({
      files: [fs.path('plugins/p.yml'), fs.path('run.yml')],
      overrides: ['--postprocessor.args.factor=5'],
      builtins: [],
    });
    expect(run.config.value.postprocessor).toEqual({ name: 'fixture_scaled_max', args: { factor: 5 } });
    expect(run.config.value.fixture).toEqual({ level: 3 });
    expect(run.app.plugins.map((p) => p.spec)).toEqual([join(fixtures, 'good-plugin')]);
  });

  it('override, reference and validation problems are reported in one pass, each once', async () => {
    const fs = writeFiles({
      'run.yml': `plugins: ['${join(fixtures, 'good-plugin')}']\npostprocessor: {name: fixture_scaled_max, args: {factor: '@{fixture.lvl}'}}\nfixture: {level: 0.5}\nsed: 1\n`,
    });
    let error: unknown;
    try {
      await loadRun({ files: [fs.path('run.yml')], overrides: ['--fixture.levl=2'], builtins: [] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.map((i) => [i.path, i.line]);
    expect(issues).toEqual([
      ['fixture.levl', undefined],
      ['postprocessor.args.factor', 2],
      ['fixture.level', 3],
      ['sed', 4],
    ]);
  });

  it('a --plugins override is relative to cwd and its relative path is saved absolute', async () => {
    const fs = writeFiles({ 'run.yml': 'postprocessor: fixture_scaled_max\n' });
    const run = await loadRun({ files: [fs.path('run.yml')], overrides: ['--plugins=[./good-plugin]'], builtins: [], cwd: fixtures });
    expect(run.config.value.plugins).toEqual([join(fixtures, 'good-plugin')]);
    expect(run.config.value.postprocessor).toEqual({ name: 'fixture_scaled_max', args: { factor: 2 } });
  });
});
