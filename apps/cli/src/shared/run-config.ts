/**
 * Shared plumbing for every command that runs from a config (config print/check, train, bench, run,
 * feat-extract, eval-features, test-ood, data). A command file uses it like this:
 *
 * ```ts
 * export function registerTrain(program: Command): void {
 *   withConfigOptions(program.command('train').description('...'), { runFolder: true })
 *     .action(async (_options: unknown, command: Command) => {
 *       const inputs = commandInputs(command);                            // --config, --profile, --out, overrides, ...
 *       const run = await loadRunFromInputs(inputs, { preset: [flagOverride('pipeline', { name: 'train' }, 'train')] });
 *       await runPipeline(run, inputs, { ... });                          // the same path as `oodkit run`
 *     });
 * }
 * ```
 *
 * `loadRunFromInputs` merges the files (a command's default files first, then `--config`, then the
 * `--profile`), applies the command's own flags as typed overrides and then the user's `--key.path=value`
 * overrides (checked against the registered schemas), loads plugins before anything is built, resolves
 * `@{}` references and validates the whole config, throwing one ConfigError (exit 2) with every problem.
 */
import {
  Rng,
  UsageError,
  createLogger,
  loadRun,
  type BuildContext,
  type ConfigOverride,
  type LoadedRun,
  type LogLevel,
  type Logger,
} from '@oodkit/core';
import type { ContainerModule } from 'inversify';
import { builtinModules } from '../modules.js';
import { outOverrides, type CommandInputs } from './options.js';

export { OVERRIDES_HELP, withConfigOptions } from './options.js';

/** A loaded run plus what every component build needs. */
export interface CliRun extends LoadedRun {
  logger: Logger;
  /** The run's root stream, seeded by `seed`; components get `rng.derive(<their path>)`. */
  rng: Rng;
  /** Logger, derived random stream and whole config for building the component at `path`. */
  buildContext(path: string): Omit<BuildContext, 'registry'>;
}

export interface LoadRunSettings {
  /** ContainerModules besides the config's plugins (default: every built-in library). */
  readonly builtins?: readonly ContainerModule[];
  /** Files merged before the user's `--config` (e.g. bench's configs/bench/default.yml). */
  readonly defaultFiles?: readonly string[];
  /** The command's own flags as config overrides, applied before the user's `--key.path` overrides. */
  readonly preset?: readonly ConfigOverride[];
  /** Require at least one config file (default: a command with no default files needs `--config`). */
  readonly requireFiles?: boolean;
  /** Where deprecation lines and notices go (default: stderr). */
  readonly notify?: (line: string) => void;
}

const stderrNotice = (line: string) => process.stderr.write(`oodkit: ${line}\n`);

/** Files, profile, flags and overrides → validated config, registry, logger, rng; notices printed once. */
export async function loadRunFromInputs(inputs: CommandInputs, settings: LoadRunSettings = {}): Promise<CliRun> {
  const files = [...(settings.defaultFiles ?? []), ...inputs.files];
  if ((settings.requireFiles ?? settings.defaultFiles === undefined) && files.length === 0)
    throw new UsageError('this command needs --config <files...>');
  const notify = settings.notify ?? stderrNotice;
  for (const line of inputs.notices) notify(line);
  const run = await loadRun({
    files,
    profiles: inputs.profiles,
    overrides: [...(settings.preset ?? []), ...(inputs.out !== undefined ? outOverrides(inputs.out) : []), ...inputs.overrides],
    builtins: settings.builtins ?? builtinModules,
    extraPlugins: inputs.plugins,
    onNotice: notify,
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
