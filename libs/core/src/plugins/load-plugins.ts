import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ContainerModule } from 'inversify';
import { EXIT_USAGE, OodkitError } from '../errors/oodkit-error.js';
import type { LoadedConfig } from '../config/load.js';
import { COMMAND_LINE } from '../config/sources.js';

/** A plugin that could not be loaded or registered; names the plugin and carries the cause. */
export class PluginError extends OodkitError {
  override readonly exitCode = EXIT_USAGE;
  constructor(
    readonly plugin: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`plugin '${plugin}': ${reason}`, options);
  }
}

/** A `plugins:` entry and the folder relative paths in it are resolved against. */
export interface PluginSpec {
  spec: string;
  baseDir: string;
}

export interface LoadedPlugin {
  spec: string;
  /** The file that was imported. */
  entry: string;
  /** The absolute file or folder when the plugin was given as a path (not a package name). */
  path?: string;
  /** Every distinct ContainerModule the plugin exports, in export order (default first). */
  modules: ContainerModule[];
}

/**
 * Recognises a ContainerModule by shape, not `instanceof`: a plugin may bundle its own copy of
 * inversify, whose class is a different object.
 */
export function isContainerModule(value: unknown): value is ContainerModule {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as { load?: unknown; id?: unknown };
  return typeof candidate.load === 'function' && typeof candidate.id === 'number';
}

function isPathSpec(spec: string): boolean {
  return (
    spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..' || isAbsolute(spec) || /\.(m?[jt]s|c[jt]s)$/.test(spec)
  );
}

/** The entry file of a plugin folder: its package.json `exports['.']`/`main`, else index.{ts,js,mjs}. */
function packageEntry(dir: string): string | undefined {
  const manifest = join(dir, 'package.json');
  if (existsSync(manifest)) {
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: unknown; main?: string };
    let target: unknown = pkg.exports;
    if (target && typeof target === 'object' && '.' in target) target = (target as Record<string, unknown>)['.'];
    for (let depth = 0; depth < 4 && target && typeof target === 'object'; depth++) {
      const conditions = target as Record<string, unknown>;
      target = conditions.import ?? conditions.default ?? conditions.node;
    }
    if (typeof target === 'string') return resolve(dir, target);
    if (pkg.main) return resolve(dir, pkg.main);
  }
  return ['index.ts', 'index.js', 'index.mjs'].map((name) => join(dir, name)).find((path) => existsSync(path));
}

/** The URL or specifier to import for a spec, or a reason it cannot be found. */
interface Located {
  target: string;
  entry: string;
  path?: string;
}

function locate(plugin: PluginSpec): Located | { missing: string } {
  const { spec, baseDir } = plugin;
  if (isPathSpec(spec)) return locatePath(spec, baseDir);
  try {
    const entry = createRequire(join(baseDir, '__oodkit_plugin_resolver__.js')).resolve(spec);
    return { target: pathToFileURL(entry).href, entry };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ESM-only packages have no "require" condition: let import() resolve them itself.
    if (code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return { target: spec, entry: spec };
    // `plugins/mine` without './': an installed package wins (Node's rule), else a path that exists.
    if (existsSync(resolve(baseDir, spec))) return locatePath(spec, baseDir);
    return { missing: `not found: no package '${spec}' is installed (looked from ${baseDir}) and no such path` };
  }
}

function locatePath(spec: string, baseDir: string): Located | { missing: string } {
  const path = resolve(baseDir, spec);
  if (!existsSync(path)) return { missing: `not found: no file or folder at ${path}` };
  const entry = statSync(path).isDirectory() ? packageEntry(path) : path;
  if (!entry || !existsSync(entry)) return { missing: `not found: ${path} has no package.json entry or index file` };
  return { target: pathToFileURL(entry).href, entry, path };
}

/** Imports one plugin and collects its ContainerModules. Throws PluginError. */
export async function loadPlugin(plugin: PluginSpec | string, baseDir = process.cwd()): Promise<LoadedPlugin> {
  const spec = typeof plugin === 'string' ? { spec: plugin, baseDir } : plugin;
  const located = locate(spec);
  if ('missing' in located) throw new PluginError(spec.spec, located.missing);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(located.target)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new PluginError(spec.spec, `failed while importing ${located.entry}: ${reason}`, { cause: error });
  }
  const modules: ContainerModule[] = [];
  const names = ['default', ...Object.keys(exports).filter((name) => name !== 'default')];
  for (const name of names) {
    const value = exports[name];
    if (isContainerModule(value) && !modules.includes(value)) modules.push(value);
  }
  if (modules.length === 0) {
    const found = Object.keys(exports).join(', ') || '(nothing)';
    throw new PluginError(
      spec.spec,
      `exports no inversify ContainerModule (exports: ${found}); export one made with libraryModule() or componentModule()`,
    );
  }
  return { spec: spec.spec, entry: located.entry, ...(located.path ? { path: located.path } : {}), modules };
}

/** Loads every plugin; all failures are reported together, each by plugin name with its cause. */
export async function loadPlugins(specs: readonly (PluginSpec | string)[], baseDir = process.cwd()): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  const failures: PluginError[] = [];
  for (const spec of specs) {
    try {
      loaded.push(await loadPlugin(spec, baseDir));
    } catch (error) {
      if (error instanceof PluginError) failures.push(error);
      else throw error;
    }
  }
  if (failures.length === 1) throw failures[0]!;
  if (failures.length > 1) {
    throw new PluginError(
      failures.map((f) => f.plugin).join(', '),
      `${failures.length} plugins failed:\n${failures.map((f) => `  - ${f.message}`).join('\n')}`,
      {
        cause: failures[0],
      },
    );
  }
  return loaded;
}

/**
 * The `plugins:` entries of a config, each with the folder it is relative to: the folder of the file
 * that set it, or `cwd` when it came from the command line. Non-string entries are left to validation.
 */
export function pluginSpecsOf(config: Pick<LoadedConfig, 'value' | 'sources'>, cwd = process.cwd()): PluginSpec[] {
  const list = config.value.plugins;
  if (!Array.isArray(list)) return [];
  const out: PluginSpec[] = [];
  list.forEach((spec, index) => {
    if (typeof spec !== 'string' || spec === '') return;
    const where = config.sources.locate(`plugins.${index}`);
    const baseDir = !where || where.file === COMMAND_LINE ? cwd : resolve(cwd, dirname(where.file));
    out.push({ spec, baseDir });
  });
  return out;
}
