import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { currentProcess, writeFileAtomic, type ProcessIdentity } from '@oodkit/core';
import { cellFileName } from './cell-plan.js';

/** What a cell process last said about itself. `interrupted`: stopped on request (SIGTERM), resumable. */
export type CellState = 'running' | 'done' | 'failed' | 'interrupted';

/** `<results folder>/cells/<cell file name>.json`, rewritten (atomically) at every change of state. */
/** The process that wrote it is part of the record (pid, host, boot id, start time: enough to tell if it still runs). */
export interface CellStatus extends ProcessIdentity {
  readonly id: string;
  readonly state: CellState;
  /** Why it failed or stopped (the error message). */
  readonly reason?: string;
  /** It could not run because this cell (the first on its path) failed. */
  readonly blockedBy?: string;
  /** An evaluation group's methods that failed (the group still finishes the others). */
  readonly failures?: readonly { readonly postprocessor: string; readonly message: string }[];
  /** The scheduler's job id of the process (SLURM: `<array job>_<task>` or the job id). */
  readonly job?: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly seconds?: number;
  /** Every product it needed was in the store already. */
  readonly cached?: boolean;
  /** A training continued from a checkpoint: where. */
  readonly resumedFrom?: { readonly epoch: number; readonly stepInEpoch: number };
}

export function cellStatusDir(outDir: string): string {
  return join(outDir, 'cells');
}

export function cellStatusPath(outDir: string, id: string): string {
  return join(cellStatusDir(outDir), `${cellFileName(id)}.json`);
}

export function readCellStatus(outDir: string, id: string): CellStatus | undefined {
  const path = cellStatusPath(outDir, id);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CellStatus;
  } catch {
    return undefined; // only written atomically; unreadable means not ours
  }
}

/** Every status file of a results folder, by cell id. */
export function readAllCellStatus(outDir: string): Map<string, CellStatus> {
  const dir = cellStatusDir(outDir);
  const out = new Map<string, CellStatus>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.json')) continue;
    try {
      const status = JSON.parse(readFileSync(join(dir, name), 'utf8')) as CellStatus;
      out.set(status.id, status);
    } catch {
      // skip
    }
  }
  return out;
}

/** The scheduler job this process runs in, if any. */
export function schedulerJob(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID) return `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`;
  return env.SLURM_JOB_ID;
}

export async function writeCellStatus(
  outDir: string,
  status: Omit<CellStatus, keyof ProcessIdentity | 'job'> & { readonly job?: string },
): Promise<CellStatus> {
  const job = status.job ?? schedulerJob();
  const full: CellStatus = { ...status, ...currentProcess(), ...(job ? { job } : {}) };
  mkdirSync(cellStatusDir(outDir), { recursive: true });
  await writeFileAtomic(cellStatusPath(outDir, status.id), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}
