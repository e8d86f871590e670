/**
 * Shared plumbing for every command that runs from a config (config print/check, train, bench,
 * eval-features, ...). A command file uses it like this:
 *
 * ```ts
 * import type { Command } from 'commander';
 * import { withConfigOptions, loadRunFromCommand } from '../shared/run-config.js';
 *
 * export function registerTrain(program: Command): void {
 *   withConfigOptions(program.command('train').description('train a network from a config'))
 *     .option('--resume', 'continue an interrupted run')
 *     .action(async (options: { resume?: boolean }, command: Command) => {
 *       const run = await loadRunFromCommand(command);   // files + overrides + plugins → validated config
 *       const config = run.config.value;                  // defaults filled in; save it with saveResolvedConfig
 *       const network = await run.app.registry.build('network', config.network as ComponentSection, run.buildContext('network'));
 *     });
 * }
 * ```
 *
 * `withConfigOptions` adds `--config <files...>` and lets unknown `--key.path=value` / `--key.path value`
 * tokens through; `loadRunFromCommand` turns them into config overrides (typed by the existing key or
 * the registered schemas), loads the config's `plugins:` before anything is built, resolves `@{}`
 * references and validates the whole config, throwing one ConfigError (exit 2) with every problem.
 */
import type { Command } from 'commander';
import type { ContainerModule } from 'inversify';
import { Rng, UsageError, createLogger, loadRun, type BuildContext, type LoadedRun, type LogLevel, type Logger } from '@oodkit/core';
import { builtinModules } from '../modules.js';

export const OVERRIDES_HELP = `
Config overrides:
  Any other --key.path=value (or --key.path value) overrides that key after the files are merged,
  e.g. --dataset.num_classes=7 --postprocessor.args.temperature=1000 --train.milestones=[30,60].
  The value takes the type of the key it replaces (booleans: true/false/1/0; lists and mappings as
  YAML flow); unknown keys are errors. @{a.b} references are resolved after overrides.`;

export interface ConfigOptionsSettings {
  /** `--config` must be given (default true). */
  required?: boolean;
}

/** Adds `--config <files...>` and accepts `--key.path=value` overrides after it. */
export function withConfigOptions(command: Command, settings: ConfigOptionsSettings = {}): Command {
  const description = 'YAML config files, merged in order (later files win)';
  if (settings.required ?? true) command.requiredOption('-c, --config <files...>', description);
  else command.option('-c, --config <files...>', description);
  return command.allowUnknownOption(true).allowExcessArguments(true).addHelpText('after', OVERRIDES_HELP);
}

/**
 * The override tokens of a command run: everything from the first `--` token on that commander did
 * not recognise. Stray positional words are a usage error.
 */
export function overridesOf(command: Command): string[] {
  const args = command.args;
  const first = args.findIndex((arg) => arg.startsWith('--'));
  const operands = first < 0 ? args : args.slice(0, first);
  const declared = command.registeredArguments.length;
  if (operands.length > declared) {
    throw new UsageError(
      `unexpected argument '${operands[declared]}' for '${command.name()}' (config overrides are written --key.path=value)`,
    );
  }
  return first < 0 ? [] : args.slice(first);
}

/** A loaded run plus what every component build needs. */
export interface CliRun extends LoadedRun {
  logger: Logger;
  /** The run's root stream, seeded by `seed`; components get `rng.derive(<their path>)`. */
  rng: Rng;
  /** Logger, derived random stream and whole config for building the component at `path`. */
  buildContext(path: string): Omit<BuildContext, 'registry'>;
}

export interface LoadRunFromCommandOptions {
  /** ContainerModules besides the config's plugins (default: every built-in library). */
  builtins?: readonly ContainerModule[];
  /** Use these files instead of the command's `--config` (e.g. a command's built-in default config). */
  files?: readonly string[];
  /** Plugins to load in addition to the config's `plugins:`. */
  extraPlugins?: readonly string[];
}

/** Files from `--config`, overrides from the leftover argv → validated config, registry, logger, rng. */
export async function loadRunFromCommand(command: Command, options: LoadRunFromCommandOptions = {}): Promise<CliRun> {
  const files = options.files ?? (command.opts() as { config?: string[] }).config ?? [];
  if (files.length === 0) throw new UsageError(`'${command.name()}' needs --config <files...>`);
  const run = await loadRun({
    files,
    overrides: overridesOf(command),
    builtins: options.builtins ?? builtinModules,
    ...(options.extraPlugins ? { extraPlugins: options.extraPlugins } : {}),
  });
  const config = run.config.value;
  const logger = createLogger((config.log_level as LogLevel | undefined) ?? 'info');
  const rng = Rng.fromSeed(typeof config.seed === 'number' ? config.seed : 0);
  return {
    ...run,
    logger,
    rng,
    buildContext: (path) => ({ logger: logger.child(path), rng: rng.derive(path), config }),
  };
}

/** stdout, the channel for machine-readable results (logs go to stderr). */
export function writeOut(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
