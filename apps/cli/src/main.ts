import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, OodkitError } from '@oodkit/core';
import { commandRegistrars } from './commands/index.js';

/** Builds the `oodkit` program; each subcommand lives in its own file under commands/. */
export function buildProgram(): Command {
  const program = new Command('oodkit')
    .description('OOD detection toolkit: train, evaluate and benchmark out-of-distribution detectors')
    .exitOverride()
    .showHelpAfterError();
  for (const register of commandRegistrars) register(program);
  return program;
}

/** Runs the CLI and returns the exit code: 0 ok, 2 usage/config error, 1 runtime failure. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) return EXIT_OK;
      return EXIT_USAGE;
    }
    if (error instanceof OodkitError) {
      process.stderr.write(`oodkit: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`oodkit: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_RUNTIME;
  }
}
