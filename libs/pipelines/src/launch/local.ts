import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { CellPlan, PlannedCell } from '../benchmark/cell-plan.js';
import type { CellState } from '../benchmark/cell-status.js';
import type { CellCommand } from './slurm.js';

export interface LocalCellEnd {
  readonly cell: PlannedCell;
  /** What the worker reported; `failed` too when the worker died during the cell. */
  readonly state: CellState;
  readonly seconds: number;
  /** The log of the worker that ran it. */
  readonly log: string;
}

export interface LocalRunOptions {
  readonly plan: CellPlan;
  readonly command: CellCommand;
  readonly runId: string;
  readonly jobs: number;
  /** Worker k writes its stdout and stderr to `<logDir>/worker-<k>.log`. */
  readonly logDir: string;
  /** Cells already done are not sent (their dependents start at once). The summary always runs. */
  readonly isDone: (cell: PlannedCell) => boolean;
  readonly onCellEnd?: (end: LocalCellEnd) => void;
  /** Aborting stops handing out cells and sends SIGTERM to the workers (a training checkpoints). */
  readonly signal?: AbortSignal;
}

/** Parent → worker: run this cell; or stop. Worker → parent: the cell ended in this state. */
export type WorkerRequest = { readonly cell: string } | { readonly stop: true };
export interface WorkerReply {
  readonly cell: string;
  readonly state: CellState;
}

interface Worker {
  readonly child: ChildProcess;
  readonly log: string;
  current?: { cell: PlannedCell; t0: number };
}

/**
 * The plan's cells run by `jobs` worker processes (`oodkit bench --worker`: each loads the config and
 * the benchmark once, then runs the cells it is sent one after another with the same code as
 * `--cell`). A cell is sent once every cell it depends on has ended, whatever the outcome (SLURM's
 * afterany), in plan order among the ready ones; an interrupted cell blocks its dependents. A
 * worker that dies fails its cell and is replaced. Resolves when nothing more can run.
 */
export async function runCellsLocally(options: LocalRunOptions): Promise<LocalCellEnd[]> {
  const { plan } = options;
  mkdirSync(options.logDir, { recursive: true });
  const ended = new Set<string>();
  const started = new Set<string>();
  const workers: Worker[] = [];
  const ends: LocalCellEnd[] = [];
  let spawned = 0;
  for (const cell of plan.cells) {
    if (cell.stage !== 'summary' && options.isDone(cell)) {
      ended.add(cell.id);
      started.add(cell.id);
    }
  }
  const workersNeeded = Math.max(1, Math.min(options.jobs, plan.cells.length - started.size));
  return new Promise((resolveAll) => {
    let finished = false;
    // Resolves once every worker has exited (asked to stop when nothing is left).
    const finish = () => {
      if (!finished) {
        finished = true;
        for (const w of workers) if (w.child.connected) w.child.send({ stop: true } satisfies WorkerRequest);
      }
      if (workers.length === 0) resolveAll(ends);
    };
    const end = (worker: Worker, state: CellState) => {
      const current = worker.current!;
      worker.current = undefined;
      if (state !== 'interrupted') ended.add(current.cell.id);
      const record = { cell: current.cell, state, seconds: (performance.now() - current.t0) / 1000, log: worker.log };
      ends.push(record);
      options.onCellEnd?.(record);
    };
    const spawnWorker = (): Worker => {
      const log = join(options.logDir, `worker-${spawned++}.log`);
      const fd = openSync(log, 'a');
      const [command, ...args] = options.command.argv;
      const child = spawn(command!, [...args, '--worker', '--cell-run', options.runId], {
        cwd: options.command.cwd,
        stdio: ['ignore', fd, fd, 'ipc'],
      });
      closeSync(fd);
      const worker: Worker = { child, log };
      child.on('message', (reply: WorkerReply) => {
        if (worker.current?.cell.id !== reply.cell) return;
        end(worker, reply.state);
        pump();
      });
      child.on('exit', () => {
        workers.splice(workers.indexOf(worker), 1);
        if (worker.current) end(worker, options.signal?.aborted ? 'interrupted' : 'failed');
        pump();
      });
      workers.push(worker);
      return worker;
    };
    const pump = () => {
      if (finished) return finish();
      if (options.signal?.aborted) {
        if (workers.length === 0) finish();
        return;
      }
      for (const cell of plan.cells) {
        if (started.has(cell.id) || !cell.deps.every((d) => ended.has(d))) continue;
        let worker = workers.find((w) => w.current === undefined && w.child.connected);
        if (!worker && workers.length < workersNeeded) worker = spawnWorker();
        if (!worker) break;
        started.add(cell.id);
        worker.current = { cell, t0: performance.now() };
        worker.child.send({ cell: cell.id } satisfies WorkerRequest);
      }
      // Nothing running after handing out what is ready: nothing can start any more.
      if (workers.every((w) => w.current === undefined)) finish();
    };
    options.signal?.addEventListener('abort', () => {
      for (const w of workers) w.child.kill('SIGTERM');
    });
    pump();
  });
}
