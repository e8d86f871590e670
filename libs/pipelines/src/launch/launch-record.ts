import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { currentProcess, writeFileAtomic, type ProcessIdentity } from '@oodkit/core';
import type { CellCommand, SubmittedStage } from './slurm.js';

/** `<results folder>/launch.json`: how the cells of this config were last launched (for --status and --cancel). */
export interface LaunchRecord {
  readonly launcher: 'local' | 'slurm';
  readonly runId: string;
  readonly command: CellCommand;
  readonly launchedAt: string;
  /** The launcher's process (the local one runs until every cell ended; --cancel stops it). */
  readonly process: ProcessIdentity;
  readonly jobs?: readonly SubmittedStage[];
}

export function launchRecordPath(outDir: string): string {
  return join(outDir, 'launch.json');
}

export function readLaunchRecord(outDir: string): LaunchRecord | undefined {
  const path = launchRecordPath(outDir);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as LaunchRecord;
}

export async function writeLaunchRecord(outDir: string, record: Omit<LaunchRecord, 'process' | 'launchedAt'>): Promise<LaunchRecord> {
  const full: LaunchRecord = { ...record, launchedAt: new Date().toISOString(), process: currentProcess() };
  await writeFileAtomic(launchRecordPath(outDir), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}
