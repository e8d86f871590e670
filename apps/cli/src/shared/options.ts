/**
 * The options layer: one name per thing for every command.
 *
 * - `-c, --config <files...>`  config files, merged in order
 * - `--profile <name|file>`    a settings profile from configs/profiles (e.g. quick), merged last
 * - `-p, --plugin <specs...>`  plugins to load besides the config's `plugins:`
 * - `-o, --out <dir>`          the exact folder the command writes (its run folder): sets `output_dir` to
 *                              the parent and `exp_name` to the folder's name, so the saved config.yml
 *                              says where the results are
 * - `--resume` / `--overwrite` for commands that write a run folder: continue it / replace it (moved aside)
 * - `--<key.path>=<value>`     any config key, typed and checked by the registered schemas; a setting
 *                              that is a config key has no second flag (`--compute.backend=wasm`,
 *                              `--data_dir=...`, `--seed=1`)
 *
 * Deprecated spellings (`--args.K`, `--backend`, `--data-dir`, `--cache-dir`, `--run-dir`, `--dir`) still
 * work until 0.2.0 and print one line saying what to write instead.
 */
import { existsSync, readdirSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UsageError, renameOverrides, toOverrides, type ConfigOverride, type KeyRename } from '@oodkit/core';

/** The release in which the deprecated spellings below stop working. */
export const DEPRECATED_UNTIL = '0.2.0';

/** Old option spellings that are config keys now (or moved under one): renamed with a deprecation line. */
export const DEPRECATED_OVERRIDE_OPTIONS: readonly KeyRename[] = [
  { from: 'args', to: 'postprocessor.args', removeIn: DEPRECATED_UNTIL },
  { from: 'backend', to: 'compute.backend', removeIn: DEPRECATED_UNTIL },
  { from: 'data-dir', to: 'data_dir', removeIn: DEPRECATED_UNTIL },
  { from: 'cache-dir', to: 'cache_dir', removeIn: DEPRECATED_UNTIL },
];

/** Short forms that stay: `--grid.K=[...]` is `--postprocessor.grid.K=[...]` (the method's search grid). */
export const OVERRIDE_SHORT_FORMS: readonly { from: string; to: string }[] = [{ from: 'grid', to: 'postprocessor.grid' }];

export const OVERRIDES_HELP = `
Config overrides:
  Any other --key.path=value (or --key.path value) sets that config key after the files are merged,
  whether or not a file sets it: e.g. --seed=1 --dataset.num_classes=7 --compute.backend=wasm --train.epochs=2
  --postprocessor.args.temperature=1000 --sio.synthetic.args.epochs=1 --train.milestones=[30,60].
  The value is typed by the key's schema (booleans: true/false/1/0; lists and mappings as YAML flow);
  unknown keys are errors with a suggestion. @{a.b} references are resolved after overrides.
  --grid.K=[...] is short for --postprocessor.grid.K=[...].`;

export interface ConfigOptionsSettings {
  /** `--config` must be given (config print/check; default false). */
  readonly configRequired?: boolean;
  /** The command writes a run folder: adds `-o/--out`, `--resume`, `--overwrite`. */
  readonly runFolder?: boolean;
}

/** Adds the shared options of config-driven commands and lets `--key.path=value` overrides through. */
export function withConfigOptions(command: Command, settings: ConfigOptionsSettings = {}): Command {
  const description = 'YAML config files, merged in order (later files win)';
  if (settings.configRequired) command.requiredOption('-c, --config <files...>', description);
  else command.option('-c, --config <files...>', description);
  command
    .option('--profile <name>', 'settings profile from configs/profiles (e.g. quick), or a .yml file; merged after the config files')
    .option('-p, --plugin <specs...>', "load these plugins (package names or paths) besides the config's plugins:");
  if (settings.runFolder) {
    command
      .option('-o, --out <dir>', 'the folder this run writes (default <output_dir>/<exp_name>); sets output_dir and exp_name')
      .option('--resume', 'continue the interrupted run in the existing run folder')
      .option('--overwrite', 'replace an existing run folder (the old one is moved aside, not deleted)');
  }
  return command.allowUnknownOption(true).allowExcessArguments(true).addHelpText('after', OVERRIDES_HELP);
}

/** A hidden option kept for an old spelling; the action turns it into the new one with a notice. */
export function deprecatedOption(flags: string, replacement: string): Option {
  return new Option(flags, `deprecated: use ${replacement}`).hideHelp();
}

/** The line printed when a deprecated option is used. */
export function deprecatedOptionNotice(old: string, replacement: string): string {
  return `command line: '${old}' is deprecated, write '${replacement}' (the old spelling is removed in ${DEPRECATED_UNTIL})`;
}

/** What the shared options of one command run say, with every override parsed and renamed. */
export interface CommandInputs {
  readonly files: readonly string[];
  readonly profiles: readonly string[];
  readonly plugins: readonly string[];
  /** The user's `--key.path=value` overrides (deprecated spellings already renamed). */
  readonly overrides: readonly ConfigOverride[];
  readonly out?: string;
  readonly resume: boolean;
  readonly overwrite: boolean;
  /** Deprecation lines to print (stderr). */
  readonly notices: readonly string[];
}

interface SharedFlags {
  config?: string[];
  profile?: string;
  plugin?: string[];
  out?: string;
  resume?: boolean;
  overwrite?: boolean;
}

/**
 * The override tokens of a command run: everything from the first `--` token on that commander did
 * not recognise. Stray positional words are a usage error.
 */
export function overrideTokensOf(command: Command): string[] {
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

/** Parses and renames a command's override tokens: short forms silently, deprecated spellings with a notice. */
export function parseCommandOverrides(tokens: readonly string[]): { overrides: ConfigOverride[]; notices: string[] } {
  const parsed = toOverrides(tokens).map((override) => {
    const short = OVERRIDE_SHORT_FORMS.find((f) => override.path === f.from || override.path.startsWith(`${f.from}.`));
    return short ? { ...override, path: short.to + override.path.slice(short.from.length) } : override;
  });
  const renamed = renameOverrides(parsed, DEPRECATED_OVERRIDE_OPTIONS);
  return { overrides: renamed.overrides, notices: renamed.deprecations };
}

/** The shared options of a command run (see {@link withConfigOptions}). */
export function commandInputs(command: Command): CommandInputs {
  const flags = command.opts<SharedFlags>();
  return inputsFrom({
    ...flags,
    ...(flags.plugin ? { plugins: flags.plugin } : {}),
    overrides: overrideTokensOf(command),
  });
}

/** Command inputs for programmatic use (tests, tools): what the shared options would give for these values. */
export function inputsFrom(values: {
  config?: readonly string[];
  profile?: string;
  plugins?: readonly string[];
  /** Raw tokens as on the command line, e.g. `['--seed=1', '--compute.backend', 'cpu']`. */
  overrides?: readonly string[];
  out?: string;
  resume?: boolean;
  overwrite?: boolean;
}): CommandInputs {
  const { overrides, notices } = parseCommandOverrides(values.overrides ?? []);
  return {
    files: values.config ?? [],
    profiles: values.profile !== undefined ? [profileFile(values.profile)] : [],
    plugins: values.plugins ?? [],
    overrides,
    ...(values.out !== undefined ? { out: values.out } : {}),
    resume: values.resume ?? false,
    overwrite: values.overwrite ?? false,
    notices,
  };
}

/** `--out <dir>` as config: `output_dir` = its parent, `exp_name` = its name (run folders are `<output_dir>/<exp_name>`). */
export function outOverrides(out: string, origin = '--out'): ConfigOverride[] {
  const dir = resolve(out);
  const name = basename(dir);
  if (name === '') throw new UsageError(`${origin}: '${out}' cannot be a run folder (it is the file system root)`);
  return [
    { path: 'output_dir', value: dirname(dir), origin },
    { path: 'exp_name', value: name, origin },
  ];
}

/** A command flag that sets a config key (typed value, named in error messages). */
export function flagOverride(path: string, value: unknown, origin: string): ConfigOverride {
  return { path, value, origin };
}

const SHIPPED_PROFILES = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'configs', 'profiles');

/** The file of `--profile <name>`: a path (.yml or with '/'), else configs/profiles/<name>.yml from cwd upwards, else the shipped one. */
export function profileFile(name: string, cwd = process.cwd()): string {
  if (/\.ya?ml$/.test(name) || name.includes('/')) {
    const file = resolve(cwd, name);
    if (!existsSync(file)) throw new UsageError(`--profile: no file ${file}`);
    return file;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, 'configs', 'profiles', `${name}.yml`);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  const shipped = join(SHIPPED_PROFILES, `${name}.yml`);
  if (existsSync(shipped)) return shipped;
  const known = existsSync(SHIPPED_PROFILES)
    ? readdirSync(SHIPPED_PROFILES)
        .filter((f) => f.endsWith('.yml'))
        .map((f) => f.slice(0, -4))
    : [];
  throw new UsageError(`unknown --profile '${name}' (profiles: ${known.join(', ') || 'none'}; or give a .yml file)`);
}

/** Commander parser of an integer option, checked before any work; the message echoes the bad text. */
export function integerOption(flag: string, min = 1): (text: string) => number {
  return (text) => {
    const value = Number(text.trim());
    if (text.trim() === '' || !Number.isInteger(value) || value < min)
      throw new InvalidArgumentError(`${flag} expects an integer ≥ ${min}, got '${text}'`);
    return value;
  };
}

/** Commander parser of a number option in (gt, lte], checked before any work; the message echoes the bad text. */
export function numberOption(flag: string, range: { gt?: number; lte?: number } = {}): (text: string) => number {
  const bounds = `${range.gt !== undefined ? `> ${range.gt}` : ''}${range.gt !== undefined && range.lte !== undefined ? ' and ' : ''}${
    range.lte !== undefined ? `≤ ${range.lte}` : ''
  }`;
  return (text) => {
    const value = Number(text.trim());
    const ok =
      text.trim() !== '' &&
      Number.isFinite(value) &&
      (range.gt === undefined || value > range.gt) &&
      (range.lte === undefined || value <= range.lte);
    if (!ok) throw new InvalidArgumentError(`${flag} expects a number${bounds ? ` ${bounds}` : ''}, got '${text}'`);
    return value;
  };
}

/**
 * A path flag checked before any work (backend start, config load): `--features` must be a feature
 * folder, `--checkpoint` a file. Usage errors (exit 2) that name the flag.
 */
export function requireInputPath(path: string, flag: string, kind: 'feature folder' | 'file'): void {
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch {
    throw new UsageError(`${flag} ${path}: no such ${kind === 'file' ? 'file' : 'folder'}`);
  }
  if (kind === 'file') {
    if (!stat.isFile()) throw new UsageError(`${flag} ${path}: expected a file, found a folder`);
    return;
  }
  if (!stat.isDirectory()) throw new UsageError(`${flag} ${path}: expected a feature folder, found a file`);
  if (!existsSync(join(path, 'splits.yml')))
    throw new UsageError(`${flag} ${path}: not a feature folder (no splits.yml; 'oodkit feat-extract' writes one)`);
}
