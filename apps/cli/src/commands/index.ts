import type { Command } from 'commander';

/** Each subcommand file exports one registrar; add it here. */
export type CommandRegistrar = (program: Command) => void;

export const commandRegistrars: readonly CommandRegistrar[] = [];
