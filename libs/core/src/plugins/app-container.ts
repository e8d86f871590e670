import type { Container, ContainerModule } from 'inversify';
import { ConfigError } from '../errors/oodkit-error.js';
import { createOodkitContainer } from '../container.js';
import { ComponentRegistry } from '../registry/registry.js';
import { coreConfigModule } from '../config/core-sections.js';
import { mergeConfigFiles, parseConfigFiles, unionBranchReplacer, type LoadedConfig } from '../config/load.js';
import { applyOverrides, applyOverridesCollecting, toOverrides, type ConfigOverride } from '../config/overrides.js';
import { mergeProfile } from '../config/profile.js';
import { applyKeyRenames, renameOverrides } from '../config/renames.js';
import { resolveReferencesCollecting } from '../config/references.js';
import { ConfigSections } from '../config/sections.js';
import { createSchemaLookup, resolveConfig, validateConfig, type ResolvedConfig } from '../config/validate.js';
import { schemaBelow } from '../config/schema-path.js';
import { z } from 'zod';
import { loadPlugins, pluginSpecsOf, PluginError, type LoadedPlugin, type PluginSpec } from './load-plugins.js';

/** Everything a run builds from: the container, its registries, the config sections and the plugins loaded. */
export interface AppContainer {
  container: Container;
  registry: ComponentRegistry;
  sections: ConfigSections;
  plugins: LoadedPlugin[];
}

export interface AppContainerOptions {
  /** The built-in libraries' ContainerModules (the CLI passes every lib's module). */
  builtins: readonly ContainerModule[];
  /** Plugins to load after the builtins, in order. */
  plugins?: readonly (PluginSpec | string)[];
  /** Folder for relative plugin paths given as plain strings (default: cwd). */
  baseDir?: string;
}

function makeContainer(builtins: readonly ContainerModule[]): Container {
  const container = createOodkitContainer([coreConfigModule, ...builtins]);
  container.bind(ConfigSections).toSelf().inSingletonScope();
  return container;
}

/**
 * Core's sections + builtins, then plugins, then the registries are assembled — before anything is
 * built. A plugin whose module throws while loading, or whose names collide with earlier
 * registrations, fails with a PluginError naming it.
 */
export async function createAppContainer(options: AppContainerOptions): Promise<AppContainer> {
  const plugins = await loadPlugins(options.plugins ?? [], options.baseDir);
  const container = makeContainer(options.builtins);
  for (const plugin of plugins) {
    for (const module of plugin.modules) {
      try {
        await container.loadAsync(module);
      } catch (error) {
        throw new PluginError(
          plugin.spec,
          `its ContainerModule failed to load: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    }
  }
  try {
    return { container, registry: container.get(ComponentRegistry), sections: container.get(ConfigSections), plugins };
  } catch (error) {
    if (plugins.length === 0) throw error;
    throw await blamePlugin(options.builtins, plugins, error);
  }
}

/** The first plugin whose addition makes the registries fail (collisions are only seen all together). */
async function blamePlugin(builtins: readonly ContainerModule[], plugins: readonly LoadedPlugin[], error: unknown): Promise<unknown> {
  const reason = error instanceof Error ? error.message : String(error);
  const probe = makeContainer(builtins);
  try {
    probe.get(ComponentRegistry);
    probe.get(ConfigSections);
  } catch {
    return error; // the builtins themselves collide: not a plugin's fault
  }
  for (const plugin of plugins) {
    const attempt = makeContainer(builtins);
    for (const earlier of plugins.slice(0, plugins.indexOf(plugin) + 1))
      for (const module of earlier.modules) await attempt.loadAsync(module);
    try {
      attempt.get(ComponentRegistry);
      attempt.get(ConfigSections);
    } catch {
      return new PluginError(plugin.spec, `its registrations collide: ${reason}`, { cause: error });
    }
  }
  return error;
}

export interface LoadRunOptions {
  /** YAML files merged in order. */
  files: readonly string[];
  /**
   * Profile files (`--profile quick`) merged after `files` with profile rules: they adjust settings the
   * config has and never add a section (see `mergeProfile`).
   */
  profiles?: readonly string[];
  /** Raw command-line overrides, e.g. `['--dataset.num_classes=7']`, or parsed ones with typed values. */
  overrides?: readonly (string | ConfigOverride)[];
  builtins: readonly ContainerModule[];
  /** Plugins loaded in addition to the config's own `plugins:` (e.g. `oodkit list --plugin x`). */
  extraPlugins?: readonly (PluginSpec | string)[];
  /** Folder command-line plugin paths are relative to (default: process.cwd()). */
  cwd?: string;
  /** Called with each notice as soon as it is known (so it is shown even when loading then fails). */
  onNotice?: (line: string) => void;
}

export interface LoadedRun {
  app: AppContainer;
  /** Merged, overridden, references resolved; not yet validated. */
  loaded: LoadedConfig;
  /** Validated, defaults filled in, `plugins` as absolute paths: what is saved as config.yml. */
  config: ResolvedConfig;
  /**
   * One line per old key spelling that was read (file:line, old and new spelling, the release that drops
   * it) and per profile key that did not apply; the caller shows them (the CLI on stderr).
   */
  notices: string[];
}

/**
 * The whole path from files and argv to a validated config and a ready registry:
 * read files → plugins (from the files and a `--plugins=[...]` override) → container → old key
 * spellings renamed (per file) → merge → profiles → overrides checked against the registered schemas →
 * references → validation (all issues at once).
 */
export async function loadRun(options: LoadRunOptions): Promise<LoadedRun> {
  const cwd = options.cwd ?? process.cwd();
  const parsed = parseConfigFiles(options.files);
  const profiles = parseConfigFiles(options.profiles ?? []);
  const files = mergeConfigFiles(options.files, parsed);
  const overrides = toOverrides(options.overrides ?? []);

  // Plugins must be known before the schemas that type the other overrides exist.
  const pluginsSchema = z.array(z.string());
  const pluginOverrides = overrides.filter((o) => o.path === 'plugins' || o.path.startsWith('plugins.'));
  const withPlugins = applyOverrides(files, pluginOverrides, (path) =>
    path[0] === 'plugins' ? schemaBelow(pluginsSchema, path.slice(1)) : undefined,
  );
  if (withPlugins.value.plugins !== undefined && !Array.isArray(withPlugins.value.plugins)) {
    const where = withPlugins.sources.locate('plugins');
    throw new ConfigError([
      {
        path: 'plugins',
        message: 'expected a list of package names or paths',
        ...(where ? { file: where.file } : {}),
        ...(where?.line !== undefined ? { line: where.line } : {}),
      },
    ]);
  }
  const specs = [
    ...pluginSpecsOf(withPlugins, cwd),
    ...(options.extraPlugins ?? []).map((s) => (typeof s === 'string' ? { spec: s, baseDir: cwd } : s)),
  ];
  const app = await createAppContainer({ builtins: options.builtins, plugins: specs, baseDir: cwd });

  // Old spellings (declared by the sections) are moved per file, so merge order is what the user wrote.
  const renames = app.sections.renames();
  // Schema-aware now that every section is known: a file's mapping of another union alternative replaces.
  const renamed = mergeConfigFiles(options.files, parsed, renames, unionBranchReplacer(createSchemaLookup(app.registry, app.sections)));
  const notices: string[] = [];
  const notice = (line: string) => {
    notices.push(line);
    options.onNotice?.(line);
  };
  renamed.deprecations.forEach(notice);
  let merged: LoadedConfig = renamed;
  const profileLookup = createSchemaLookup(app.registry, app.sections, { unions: 'fitting' });
  for (const [index, profile] of profiles.entries()) {
    const moved = applyKeyRenames(profile, renames);
    if (moved.issues.length > 0) throw new ConfigError(moved.issues);
    moved.deprecations.forEach(notice);
    const result = mergeProfile(merged, moved.config, profileLookup);
    merged = { ...result.config, files: [...merged.files, options.profiles![index]!] };
    for (const key of result.skipped) notice(`${options.profiles![index]}: '${key}' left out (a profile adjusts what the config has)`);
  }
  const movedOverrides = renameOverrides(overrides, renames);
  movedOverrides.deprecations.forEach(notice);

  // Override, reference and validation problems are reported together, in that order.
  const overridden = applyOverridesCollecting(merged, movedOverrides.overrides, createSchemaLookup(app.registry, app.sections));
  const referenced = resolveReferencesCollecting(overridden.config);
  const loaded = referenced.config;
  const earlier = [...overridden.issues, ...referenced.issues];
  if (earlier.length > 0) {
    const failed = referenced.failed;
    const touches = (path: string) => failed.some((f) => path === f || path.startsWith(`${f}.`));
    const later = validateConfig(loaded, app.registry, app.sections).filter((issue) => !touches(issue.path));
    throw new ConfigError([...earlier, ...later]);
  }
  const config = resolveConfig(loaded, app.registry, app.sections);
  if (Array.isArray(config.value.plugins)) {
    // Saved configs live in result folders: relative plugin paths would no longer resolve from there.
    const fromConfig = app.plugins.slice(0, specs.length - (options.extraPlugins?.length ?? 0));
    config.value.plugins = (config.value.plugins as string[]).map((spec, index) => {
      const loadedPlugin = fromConfig[index];
      return loadedPlugin?.spec === spec && loadedPlugin.path ? loadedPlugin.path : spec;
    });
  }
  return { app, loaded, config, notices };
}
