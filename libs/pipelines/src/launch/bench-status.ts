import type { CellPlan } from '../benchmark/cell-plan.js';
import { readAllCellStatus, type CellStatus } from '../benchmark/cell-status.js';
import { processLiveness } from '@oodkit/core';
import type { LaunchRecord } from './launch-record.js';
import type { SchedulerState } from './slurm.js';

export type CellView = 'done' | 'running' | 'queued' | 'failed' | 'interrupted' | 'not started';

export interface CellStatusLine {
  readonly id: string;
  readonly state: CellView;
  readonly detail?: string;
  readonly job?: string;
}

/**
 * Each cell's state from what the cells recorded (`cells/*.json`) and, when the run was submitted to
 * SLURM and squeue/sacct answer, from the scheduler: a task still pending is queued (with squeue's
 * reason), a cell that says "running" but whose process is gone (or whose task left the queue)
 * failed without a result.
 */
export function benchStatus(options: {
  readonly plan: CellPlan;
  readonly outDir: string;
  readonly launch?: LaunchRecord;
  readonly queue?: Map<string, SchedulerState>;
  readonly accounting?: Map<string, SchedulerState>;
}): CellStatusLine[] {
  const { plan, launch, queue, accounting } = options;
  const records = readAllCellStatus(options.outDir);
  const jobOf = new Map<string, string>();
  for (const stage of launch?.jobs ?? [])
    for (const i of stage.indices) {
      const cell = plan.byStage[stage.stage][i];
      if (cell) jobOf.set(cell.id, `${stage.jobId}_${i}`);
    }
  return plan.cells.map((cell): CellStatusLine => {
    const record: CellStatus | undefined = records.get(cell.id);
    const job = record?.job ?? jobOf.get(cell.id);
    const inQueue = job ? queue?.get(job) : undefined;
    const base = { id: cell.id, ...(job ? { job } : {}) };
    if (inQueue?.state === 'PENDING') return { ...base, state: 'queued', ...(inQueue.reason ? { detail: inQueue.reason } : {}) };
    if (record?.state === 'done') return { ...base, state: 'done', detail: record.cached ? 'cached' : `${record.seconds ?? '?'} s` };
    if (record?.state === 'failed') return { ...base, state: 'failed', detail: record.reason ?? 'no reason recorded' };
    if (record?.state === 'interrupted')
      return { ...base, state: 'interrupted', detail: `${record.reason ?? 'stopped'} (resumes when launched again)` };
    if (record?.state === 'running') {
      if (inQueue) return { ...base, state: 'running', detail: `since ${record.startedAt}` };
      if (processLiveness(record) === 'dead')
        return { ...base, state: 'failed', detail: `its process (pid ${record.pid} on ${record.host}) ended without a result` };
      if (queue !== undefined && job) {
        const final = accounting?.get(job);
        return {
          ...base,
          state: 'failed',
          detail: `its job left the queue without a result${final ? ` (${final.state}${final.reason ? `, ${final.reason}` : ''})` : ''}`,
        };
      }
      return { ...base, state: 'running', detail: `pid ${record.pid} on ${record.host} since ${record.startedAt}` };
    }
    if (inQueue) return { ...base, state: 'running', detail: 'starting' };
    const final = job ? accounting?.get(job) : undefined;
    if (final)
      return { ...base, state: 'failed', detail: `${final.state}${final.reason ? `, ${final.reason}` : ''} before the cell started` };
    return { ...base, state: 'not started' };
  });
}
