import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cellFileName, type CellPlan, type PlannedCell } from '../benchmark/cell-plan.js';
import { EXIT_INTERRUPTED, type CellCommand } from './slurm.js';

export interface LocalCellEnd {
  readonly cell: PlannedCell;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly seconds: number;
  readonly log: string;
}

export interface LocalRunOptions {
  readonly plan: CellPlan;
  readonly command: CellCommand;
  readonly runId: string;
  readonly jobs: number;
  /** Each cell's stdout and stderr go to `<logDir>/<cell>.log`. */
  readonly logDir: string;
  /** Cells already done are not started (their dependents start at once). The summary always runs. */
  readonly isDone: (cell: PlannedCell) => boolean;
  readonly onCellEnd?: (end: LocalCellEnd) => void;
  /** Aborting stops starting cells and sends SIGTERM to the running ones (they checkpoint and exit). */
  readonly signal?: AbortSignal;
}

/**
 * The plan's cells run by `jobs` worker processes (`oodkit bench --cell <id>` each, a fresh process
 * like a scheduler's task): a cell starts once every cell it depends on has ended, whatever the
 * outcome (SLURM's afterany), in plan order among the ready ones. Resolves when all have ended.
 */
export async function runCellsLocally(options: LocalRunOptions): Promise<LocalCellEnd[]> {
  const { plan, jobs } = options;
  mkdirSync(options.logDir, { recursive: true });
  const ended = new Set<string>();
  const started = new Set<string>();
  const running = new Map<string, ChildProcess>();
  const ends: LocalCellEnd[] = [];
  for (const cell of plan.cells) {
    if (cell.stage !== 'summary' && options.isDone(cell)) {
      ended.add(cell.id);
      started.add(cell.id);
    }
  }
  options.signal?.addEventListener('abort', () => {
    for (const child of running.values()) child.kill('SIGTERM');
  });
  return new Promise((resolveAll) => {
    const pump = () => {
      if (options.signal?.aborted) {
        if (running.size === 0) resolveAll(ends);
        return;
      }
      for (const cell of plan.cells) {
        if (running.size >= jobs) break;
        if (started.has(cell.id) || !cell.deps.every((d) => ended.has(d))) continue;
        started.add(cell.id);
        start(cell);
      }
      // Nothing running after trying to start more: nothing can start any more (all ended, or blocked by an interrupted cell).
      if (running.size === 0) resolveAll(ends);
    };
    const start = (cell: PlannedCell) => {
      const log = join(options.logDir, `${cellFileName(cell.id)}.log`);
      const out = createWriteStream(log, { flags: 'a' });
      const [command, ...args] = options.command.argv;
      const t0 = performance.now();
      const child = spawn(command!, [...args, '--cell', cell.id, '--cell-run', options.runId], {
        cwd: options.command.cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      running.set(cell.id, child);
      child.stdout!.pipe(out, { end: false });
      child.stderr!.pipe(out, { end: false });
      child.on('close', (code, signal) => {
        out.end();
        running.delete(cell.id);
        // An interrupted cell (SIGTERM) is not ended: its dependents must not run on its missing product.
        if (code !== EXIT_INTERRUPTED) ended.add(cell.id);
        const end = { cell, code, signal, seconds: (performance.now() - t0) / 1000, log };
        ends.push(end);
        options.onCellEnd?.(end);
        pump();
      });
    };
    pump();
  });
}
