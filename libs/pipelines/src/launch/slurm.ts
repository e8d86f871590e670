import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OodkitError, UsageError } from '@oodkit/core';
import { CELL_STAGES, type CellPlan, type CellStage, type PlannedCell } from '../benchmark/cell-plan.js';
import type { SlurmSettings } from './launcher-section.js';

/** Exit status of a cell stopped on request (SIGTERM) with its work checkpointed: requeue it (EX_TEMPFAIL). */
export const EXIT_INTERRUPTED = 75;

/** How a cell process is started: the same oodkit, config inputs and working folder as the launcher. */
export interface CellCommand {
  /** argv without the trailing `--cell <ref>` (e.g. [node, .../oodkit.js, bench, -c, a.yml, ...]). */
  readonly argv: readonly string[];
  readonly cwd: string;
}

/** One submitted job array: the stage's cells that were not done, by their index in the stage. */
export interface SubmittedStage {
  readonly stage: CellStage;
  readonly jobId: string;
  readonly indices: readonly number[];
  readonly script: string;
}

const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

/** An index list in sbatch's --array syntax, runs collapsed (`0-3,7,9-10`). */
export function arraySpec(indices: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indices.length;) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++;
    parts.push(i === j ? `${indices[i]}` : `${indices[i]}-${indices[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** sbatch flags of every cell from the launcher settings (the same for each stage). */
export function sbatchFlags(settings: SlurmSettings): string[] {
  const flags = [`--cpus-per-task=${settings.cpus_per_cell}`];
  if (settings.partition) flags.push(`--partition=${settings.partition}`);
  if (settings.account) flags.push(`--account=${settings.account}`);
  if (settings.time) flags.push(`--time=${settings.time}`);
  if (settings.mem) flags.push(`--mem=${settings.mem}`);
  if (settings.gpus_per_cell > 0) flags.push(`--gres=gpu:${settings.gpus_per_cell}`);
  if (settings.requeue) flags.push('--requeue');
  // B: only the batch shell gets it; it sends SIGTERM to the cell (which checkpoints) and requeues the
  // task. USR1, not TERM: a scancel also sends TERM, and a cancelled cell must not requeue itself.
  flags.push(`--signal=B:USR1@${settings.signal_seconds}`, '--open-mode=append');
  return [...flags, ...settings.extra_args];
}

/**
 * The batch script of one stage's job array. The cell runs in the background so the shell can
 * forward signals (a `wait` interrupted by a trap is repeated until the cell exits): the time-limit
 * warning (USR1) and a cancel or pre-emption (TERM) both reach the cell as SIGTERM, and a cell that
 * stopped with its checkpoint (exit 75) after the warning asks SLURM to requeue its own task.
 */
export function sbatchScript(options: {
  readonly stage: CellStage;
  readonly command: CellCommand;
  readonly runId: string;
  readonly logDir: string;
  readonly settings: SlurmSettings;
}): string {
  const { stage, command, runId, logDir, settings } = options;
  const cell = [...command.argv, '--cell', `${stage}@\${SLURM_ARRAY_TASK_ID}`, '--cell-run', runId].map((a) =>
    a.includes('${SLURM_ARRAY_TASK_ID}') ? `"${a}"` : quote(a),
  );
  const lines = [
    '#!/bin/bash',
    `# oodkit bench: the ${stage} cells of ${runId} (written by the slurm launcher; one array task per cell)`,
    `#SBATCH --job-name=oodkit-${stage}`,
    `#SBATCH --chdir=${command.cwd}`,
    `#SBATCH --output=${join(logDir, `${stage}-%A_%a.out`)}`,
    ...sbatchFlags(settings).map((f) => `#SBATCH ${f}`),
    'set -u',
    `${cell.join(' ')} &`,
    'child=$!',
    'requeue=0',
    `trap 'requeue=1; kill -TERM "$child" 2>/dev/null' USR1`,
    `trap 'kill -TERM "$child" 2>/dev/null' TERM`,
    'while :; do',
    '  wait "$child"; rc=$?',
    '  kill -0 "$child" 2>/dev/null || break',
    'done',
    settings.requeue
      ? `if [ "$rc" -eq ${EXIT_INTERRUPTED} ] && [ "$requeue" -eq 1 ]; then scontrol requeue "\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}" && exit 0; fi`
      : '',
    'exit "$rc"',
    '',
  ];
  return lines.filter((l) => l !== '').join('\n') + '\n';
}

/** Runs a SLURM command; undefined when it is not installed or no controller answers. */
export function slurmCommand(
  command: string,
  args: readonly string[],
  timeoutMs = 20_000,
): { stdout: string; stderr: string; status: number } | undefined {
  const out = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs });
  if (out.error) return undefined;
  return { stdout: out.stdout, stderr: out.stderr, status: out.status ?? 1 };
}

/** Whether a SLURM controller answers here (`sinfo` works), with the reason when not. */
export function slurmReachable(): { ok: true } | { ok: false; reason: string } {
  const out = slurmCommand('sinfo', ['-h', '-o', '%P %a'], 10_000);
  if (out === undefined) return { ok: false, reason: 'sinfo is not installed or did not answer in 10 s' };
  if (out.status !== 0) return { ok: false, reason: `sinfo failed: ${out.stderr.trim() || `exit ${out.status}`}` };
  return { ok: true };
}

/**
 * Submits the plan's cells as one job array per stage, in stage order, each stage after the previous
 * one has ended whatever its outcome (`--dependency=afterany`): a failed cell costs only the cells
 * that need its product, and the summary always runs and reports. Cells already done are left out.
 */
export function submitSlurm(options: {
  readonly plan: CellPlan;
  readonly command: CellCommand;
  readonly runId: string;
  readonly outDir: string;
  readonly settings: SlurmSettings;
  readonly isDone: (cell: PlannedCell) => boolean;
}): SubmittedStage[] {
  const { plan, outDir, settings } = options;
  const logDir = join(outDir, 'slurm');
  mkdirSync(logDir, { recursive: true });
  const submitted: SubmittedStage[] = [];
  for (const stage of CELL_STAGES) {
    const cells = plan.byStage[stage];
    const indices = cells.flatMap((cell, i) => (stage === 'summary' || !options.isDone(cell) ? [i] : []));
    if (indices.length === 0) continue;
    const script = join(logDir, `${stage}.sbatch`);
    writeFileSync(script, sbatchScript({ stage, command: options.command, runId: options.runId, logDir, settings }), { mode: 0o755 });
    const previous = submitted.at(-1);
    const args = [
      '--parsable',
      `--array=${arraySpec(indices)}`,
      ...(previous ? [`--dependency=afterany:${previous.jobId}`, '--kill-on-invalid-dep=no'] : []),
      script,
    ];
    const out = slurmCommand('sbatch', args);
    if (out === undefined) throw new UsageError('--launcher slurm: sbatch is not installed here (or did not answer)');
    if (out.status !== 0) {
      const done = submitted.map((s) => `${s.stage} ${s.jobId}`).join(', ');
      throw new OodkitError(
        `sbatch refused the ${stage} cells: ${out.stderr.trim() || `exit ${out.status}`}` +
          (done ? ` (already submitted: ${done}; oodkit bench --cancel removes them)` : ''),
      );
    }
    submitted.push({ stage, jobId: out.stdout.trim().split(';')[0]!, indices, script });
  }
  return submitted;
}

/** What the scheduler says of one array task: `R`unning, `PD` pending (+ reason), or its final state. */
export interface SchedulerState {
  readonly state: string;
  readonly reason?: string;
}

/** `squeue` for these jobs, by `<job>_<index>`; undefined when squeue is not available. */
export function queueStates(jobIds: readonly string[]): Map<string, SchedulerState> | undefined {
  if (jobIds.length === 0) return new Map();
  const out = slurmCommand('squeue', ['-h', '-r', '-j', jobIds.join(','), '-o', '%i|%T|%r']);
  if (out === undefined) return undefined;
  const states = new Map<string, SchedulerState>();
  // squeue exits non-zero when every job has left the queue ("Invalid job id"): an empty queue.
  if (out.status !== 0) return states;
  for (const line of out.stdout.split('\n')) {
    const [id, state, reason] = line.trim().split('|');
    if (!id || !state) continue;
    states.set(id, { state, ...(reason && reason !== 'None' ? { reason } : {}) });
  }
  return states;
}

/** `sacct` for these jobs (final states with exit codes); undefined without job accounting. */
export function accountingStates(jobIds: readonly string[]): Map<string, SchedulerState> | undefined {
  if (jobIds.length === 0) return new Map();
  const out = slurmCommand('sacct', ['-n', '-P', '-X', '-j', jobIds.join(','), '-o', 'JobID,State,ExitCode']);
  if (out === undefined || out.status !== 0) return undefined;
  const states = new Map<string, SchedulerState>();
  for (const line of out.stdout.split('\n')) {
    const [id, state, exit] = line.trim().split('|');
    if (!id || !state) continue;
    states.set(id, { state, ...(exit && exit !== '0:0' ? { reason: `exit ${exit}` } : {}) });
  }
  return states;
}

/** scancel the jobs; the stderr of a refusal, or undefined. */
export function cancelJobs(jobIds: readonly string[]): string | undefined {
  if (jobIds.length === 0) return undefined;
  const out = slurmCommand('scancel', [...jobIds]);
  if (out === undefined) return 'scancel is not installed here';
  return out.status === 0 ? undefined : out.stderr.trim() || `exit ${out.status}`;
}
