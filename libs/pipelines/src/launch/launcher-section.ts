import { z } from 'zod';
import { schemaSection } from '@oodkit/core';

/** `launcher.slurm`: what every cell's sbatch gets (the command line's --partition ... set the same keys). */
const slurmSchema = z.strictObject({
  partition: z.string().min(1).optional().describe('sbatch --partition'),
  account: z.string().min(1).optional().describe('sbatch --account'),
  time: z
    .string()
    .regex(/^(\d+-)?\d+(:\d{1,2}){0,2}$/, 'a SLURM time limit: minutes, MM:SS, HH:MM:SS or D-HH[:MM[:SS]]')
    .optional()
    .describe('time limit of each cell (sbatch --time)'),
  cpus_per_cell: z.int().positive().default(1).describe('sbatch --cpus-per-task'),
  gpus_per_cell: z.int().nonnegative().default(0).describe('sbatch --gres=gpu:<n> (0: none)'),
  mem: z.string().min(1).optional().describe("memory per cell (sbatch --mem, e.g. '8G')"),
  signal_seconds: z
    .int()
    .positive()
    .default(120)
    .describe(
      'warn the cell this long before the time limit (--signal=B:USR1@<s>; the cell gets SIGTERM): a training checkpoints and the task is requeued',
    ),
  requeue: z.boolean().default(true).describe('sbatch --requeue, and requeue a cell stopped by that signal'),
  extra_args: z.array(z.string()).default([]).describe("more sbatch flags, as written (e.g. ['--qos=long'])"),
});

/**
 * The `launcher:` section: how `oodkit bench` runs its cells — in this process (`inprocess`), by N
 * local worker processes (`local`), or submitted to SLURM as job arrays (`slurm`). It never changes
 * results, so it is not part of the run id.
 */
export const launcherSectionSchema = z
  .strictObject({
    name: z.enum(['inprocess', 'local', 'slurm']).default('inprocess'),
    jobs: z.int().positive().default(1).describe('worker processes of the local launcher'),
    slurm: slurmSchema.prefault({}),
  })
  .prefault({});
export type LauncherSection = z.infer<typeof launcherSectionSchema>;
export type SlurmSettings = LauncherSection['slurm'];

export const launcherConfigSection = schemaSection(
  'launcher',
  launcherSectionSchema,
  'how oodkit bench runs its cells: inprocess, local worker processes (jobs), or SLURM job arrays (partition, account, time ...)',
);
