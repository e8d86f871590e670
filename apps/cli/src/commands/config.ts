import type { Command } from 'commander';
import { stringifyConfig } from '@oodkit/core';
import { commandInputs, withConfigOptions } from '../shared/options.js';
import { loadRunFromInputs, writeOut } from '../shared/run-config.js';

/** `oodkit config print|check`: the resolved config, or every problem in it. */
export function registerConfig(program: Command): void {
  const config = program.command('config').description('inspect configurations: print the resolved YAML or check it');

  withConfigOptions(
    config
      .command('print')
      .description('merge the files (and --profile), apply overrides, resolve @{} references, validate and print the resolved YAML')
      .option('--no-defaults', 'print only what the files and overrides set (no filled-in defaults)')
      .option('--sources', 'annotate every key with the file:line (or command line) that set it'),
    { configRequired: true },
  ).action(async (options: { defaults: boolean; sources?: boolean }, command: Command) => {
    const run = await loadRunFromInputs(commandInputs(command));
    const value = options.defaults ? run.config.value : run.loaded.value;
    writeOut(stringifyConfig(value, options.sources ? { sources: run.config.sources } : {}));
  });

  withConfigOptions(config.command('check').description('validate only: prints "ok", or every problem with file:line and exits 2'), {
    configRequired: true,
  }).action(async (_options: unknown, command: Command) => {
    await loadRunFromInputs(commandInputs(command));
    writeOut('ok');
  });
}
