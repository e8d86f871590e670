/**
 * `oodkit bench --launcher local|slurm`, `--cell`, `--status`, `--cancel`: the benchmark's cells
 * (libs/pipelines cell-plan) run one per process — by local workers, or as SLURM job arrays.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OodkitError, UsageError, processLiveness, saveResolvedConfig, type LogLevel } from '@oodkit/core';
import {
  EXIT_INTERRUPTED,
  accountingStates,
  benchCellPlan,
  benchFolders,
  benchStatus,
  benchmarkConfigs,
  benchmarkNameOf,
  benchmarkSetTablePath,
  cancelJobs,
  findCell,
  launcherSectionSchema,
  openBenchSession,
  queueStates,
  readAllCellStatus,
  readLaunchRecord,
  runBenchCell,
  runCellsLocally,
  submitSlurm,
  writeLaunchRecord,
  type BenchFailure,
  type CellCommand,
  type CellPlan,
  type LauncherSection,
  type WorkerReply,
  type WorkerRequest,
} from '@oodkit/pipelines';
import type { CommandInputs } from '../shared/options.js';
import { createReporter } from '../shared/progress.js';
import { checkOutputFolders } from '../shared/run-pipeline.js';
import { writeOut, type CliRun } from '../shared/run-config.js';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'oodkit.js');

/** A cell stopped on request with its work checkpointed: exit 75 so the batch script requeues it. */
export class CellInterruptedError extends OodkitError {
  override readonly exitCode = EXIT_INTERRUPTED;
}

/**
 * The command line of one cell: this oodkit, `bench`, the same config inputs (files and profile as
 * absolute paths) and the user's overrides, in the same working folder. Each cell loads and checks
 * the config itself and must arrive at the launcher's run id (see --cell-run).
 */
export function cellCommand(
  inputs: CommandInputs,
  overrideTokens: readonly string[],
  cwd = process.cwd(),
  benchmarkIndex?: number,
): CellCommand {
  // Flags before the overrides: what follows an override token is read as overrides too.
  const argv = [process.execPath, BIN, 'bench', ...(benchmarkIndex !== undefined ? ['--cell-benchmark', String(benchmarkIndex)] : [])];
  if (inputs.files.length > 0) argv.push('-c', ...inputs.files.map((f) => resolve(cwd, f)));
  if (inputs.profiles.length > 0) argv.push('--profile', resolve(cwd, inputs.profiles[0]!));
  if (inputs.plugins.length > 0) argv.push('-p', ...inputs.plugins);
  if (inputs.out !== undefined) argv.push('-o', resolve(cwd, inputs.out));
  argv.push(...overrideTokens);
  return { argv, cwd };
}

function launcherOf(run: CliRun): LauncherSection {
  return launcherSectionSchema.parse(run.config.value.launcher);
}

type Section = Record<string, unknown>;

/** One benchmark of the run's config (all of it without bench.benchmarks), with what the launchers need. */
interface BenchmarkRun {
  readonly config: Section;
  /** Its index in bench.benchmarks (undefined without the key): cells get `--cell-benchmark <index>`. */
  readonly index: number | undefined;
  readonly name: string;
  readonly plan: CellPlan;
  readonly groupDir: string;
  readonly runId: string;
  readonly outDir: string;
}

async function benchmarkRuns(run: CliRun): Promise<BenchmarkRun[]> {
  const configs = benchmarkConfigs(run.config.value);
  const multi = configs.length > 1 || configs[0] !== run.config.value;
  return Promise.all(
    configs.map(async (config, i) => {
      const name = await benchmarkNameOf(config);
      return { config, index: multi ? i : undefined, name, plan: benchCellPlan(config).plan, ...benchFolders(config, name) };
    }),
  );
}

/** The benchmark config a cell process runs: `--cell-benchmark` picks the entry of bench.benchmarks. */
function cellConfig(run: CliRun, index: number | undefined): { config: Section; setConfig?: Section } {
  const configs = benchmarkConfigs(run.config.value);
  const multi = configs.length > 1 || configs[0] !== run.config.value;
  if (!multi) {
    if (index !== undefined) throw new UsageError(`--cell-benchmark ${index}: this config has no bench.benchmarks`);
    return { config: run.config.value };
  }
  if (index === undefined)
    throw new UsageError(`a cell of a bench.benchmarks config needs --cell-benchmark <index> (0 to ${configs.length - 1})`);
  const config = configs[index];
  if (!config) throw new UsageError(`--cell-benchmark ${index}: bench.benchmarks has ${configs.length} entries (indices from 0)`);
  return { config, setConfig: run.config.value };
}

/** The session a cell process runs in; it must arrive at the run id the launcher planned. */
async function openCellSession(
  run: CliRun,
  config: Section,
  setConfig: Section | undefined,
  reporter: ReturnType<typeof createReporter>,
  stopSignal: AbortSignal,
  expectedRun: string | undefined,
  what: string,
) {
  const session = await openBenchSession(config, {
    registry: run.app.registry,
    logger: reporter.logger,
    onEvent: (e) => reporter.onEvent(e),
    stopSignal,
    // A product another cell is making is waited for (a duplicate submission), not failed on.
    lockWaitMs: 6 * 3600_000,
    ...(setConfig ? { setConfig } : {}),
  });
  if (expectedRun !== undefined && session.runId !== expectedRun)
    throw new UsageError(
      `${what}: this config is ${session.runId}, the launched one was ${expectedRun} (a config file or override changed since the launch); launch again`,
    );
  return session;
}

/** `--cell <id | stage@index>`: one cell in this process; exit 0 done, 1 failed, 75 stopped for requeue. */
export async function runOneCell(
  run: CliRun,
  inputs: CommandInputs,
  ref: string,
  expectedRun: string | undefined,
  benchmarkIndex?: number,
): Promise<void> {
  const { config, setConfig } = cellConfig(run, benchmarkIndex);
  checkOutputFolders(run, inputs, { readsData: true });
  const reporter = createReporter((config.log_level as LogLevel | undefined) ?? 'info', false, 'cell');
  const stop = new AbortController();
  const onTerm = () => {
    reporter.logger.warn('SIGTERM: stopping at the next step with a checkpoint');
    stop.abort();
  };
  process.on('SIGTERM', onTerm);
  try {
    const session = await openCellSession(run, config, setConfig, reporter, stop.signal, expectedRun, `--cell ${ref}`);
    const cell = findCell(session.plan, ref);
    reporter.logger.info(`cell ${cell.id} of ${session.outDir}`);
    const outcome = await runBenchCell(session, cell);
    if (outcome.state === 'interrupted') throw new CellInterruptedError(`cell ${cell.id} stopped on request: ${errorText(outcome.error)}`);
    if (outcome.error !== undefined)
      throw outcome.error instanceof OodkitError ? outcome.error : new OodkitError(`cell ${cell.id}: ${errorText(outcome.error)}`);
    if (outcome.result && outcome.result.failures.length > 0) throw failuresError(outcome.result.failures, outcome.result.outDir);
    if (outcome.state === 'failed') throw new OodkitError(`cell ${cell.id}: some methods failed (see ${join(session.outDir, 'cells')})`);
    writeOut(`cell ${cell.id}: done${outcome.cached ? ' (cached)' : ''}`);
  } finally {
    process.off('SIGTERM', onTerm);
    reporter.stop();
  }
}

/**
 * `--worker` (the local launcher's processes): the config and the benchmark loaded once, then the
 * cells the launcher sends over IPC, one at a time, with the same code as `--cell`. SIGTERM stops the
 * current cell with a checkpoint (reported as interrupted) and ends the worker (exit 75).
 */
export async function runWorker(
  run: CliRun,
  inputs: CommandInputs,
  expectedRun: string | undefined,
  benchmarkIndex?: number,
): Promise<void> {
  if (!process.send) throw new UsageError('--worker is started by --launcher local (it needs an IPC channel)');
  const { config, setConfig } = cellConfig(run, benchmarkIndex);
  checkOutputFolders(run, inputs, { readsData: true });
  const reporter = createReporter((config.log_level as LogLevel | undefined) ?? 'info', false, `worker ${process.pid}`);
  const stop = new AbortController();
  const onTerm = () => stop.abort();
  process.on('SIGTERM', onTerm);
  try {
    const session = await openCellSession(run, config, setConfig, reporter, stop.signal, expectedRun, '--worker');
    await new Promise<void>((done) => {
      let queue = Promise.resolve();
      const onMessage = (request: WorkerRequest) => {
        if ('stop' in request) {
          process.off('message', onMessage);
          queue.then(done, done);
          return;
        }
        queue = queue.then(async () => {
          const cell = findCell(session.plan, request.cell);
          reporter.logger.info(`cell ${cell.id}`);
          const outcome = await runBenchCell(session, cell);
          if (outcome.error !== undefined) reporter.logger.error(`cell ${cell.id} ${outcome.state}: ${errorText(outcome.error)}`);
          process.send!({ cell: cell.id, state: outcome.state } satisfies WorkerReply);
          if (stop.signal.aborted) {
            process.off('message', onMessage);
            done();
          }
        });
      };
      process.on('message', onMessage);
      process.once('disconnect', () => queue.then(done, done));
    });
    if (stop.signal.aborted) throw new CellInterruptedError('stopped on request');
  } finally {
    process.off('SIGTERM', onTerm);
    reporter.stop();
    process.disconnect?.();
  }
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function failuresError(failures: readonly BenchFailure[], outDirs: string | readonly string[]): OodkitError {
  const list = failures.map((f) => `  - ${f.postprocessor} on ${f.cell}: ${f.message}`).join('\n');
  const files = (typeof outDirs === 'string' ? [outDirs] : outDirs).map((d) => join(d, 'failures.json')).join(', ');
  return new OodkitError(
    `${failures.length} evaluation(s) failed (the others are complete; a re-run retries only these; ${files}):\n${list}`,
  );
}

/** The cells the launcher leaves out: done according to their own record. */
const doneIn = (outDir: string) => {
  const records = readAllCellStatus(outDir);
  return (cell: { id: string }) => records.get(cell.id)?.state === 'done';
};

/** `--launcher local|slurm`: every benchmark of the config (bench.benchmarks) in turn. */
export async function launchBench(run: CliRun, inputs: CommandInputs, overrideTokens: readonly string[]): Promise<void> {
  checkOutputFolders(run, inputs, { readsData: true });
  const runs = await benchmarkRuns(run);
  for (const one of runs) {
    if (runs.length > 1) writeOut(`\n${one.name}`);
    await launchOne(run, inputs, overrideTokens, one);
  }
  if (runs[0]!.index !== undefined && launcherOf(run).name === 'local')
    writeOut(`table of every benchmark: ${benchmarkSetTablePath(run.config.value)}`);
  else if (runs[0]!.index !== undefined)
    writeOut(`the table of every benchmark is written by the last summary cell to end: ${benchmarkSetTablePath(run.config.value)}`);
}

async function launchOne(run: CliRun, inputs: CommandInputs, overrideTokens: readonly string[], one: BenchmarkRun): Promise<void> {
  const launcher = launcherOf(run);
  const { config, plan, runId, outDir } = one;
  const command = cellCommand(inputs, overrideTokens, process.cwd(), one.index);
  await saveResolvedConfig(outDir, config);
  if (launcher.name === 'slurm') {
    const jobs = submitSlurm({ plan, command, runId, outDir, settings: launcher.slurm, isDone: doneIn(outDir) });
    await writeLaunchRecord(outDir, { launcher: 'slurm', runId, command, jobs });
    for (const job of jobs) writeOut(`submitted ${job.stage}: job ${job.jobId} (${job.indices.length} cell(s))`);
    writeOut(`results: ${outDir} (cell logs in ${join(outDir, 'slurm')}; oodkit bench --status / --cancel with the same config)`);
    return;
  }
  const logger = createReporter((config.log_level as LogLevel | undefined) ?? 'info', false, 'bench').logger;
  await writeLaunchRecord(outDir, { launcher: 'local', runId, command });
  const stop = new AbortController();
  const onTerm = () => stop.abort();
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onTerm);
  try {
    logger.info(`${plan.cells.length} cells, ${launcher.jobs} worker process(es); logs in ${join(outDir, 'logs')}`);
    const ends = await runCellsLocally({
      plan,
      command,
      runId,
      jobs: launcher.jobs,
      logDir: join(outDir, 'logs'),
      isDone: doneIn(outDir),
      signal: stop.signal,
      onCellEnd: (end) =>
        logger.info(
          `${end.cell.id}: ${end.state === 'interrupted' ? 'stopped (resumable)' : end.state === 'failed' ? `FAILED (${end.log})` : 'done'} in ${end.seconds.toFixed(1)} s`,
        ),
    });
    if (stop.signal.aborted) throw new OodkitError(`stopped: ${ends.length} cell(s) ended; launch again to continue (${outDir})`);
    const summaryRan = ends.some((e) => e.cell.stage === 'summary');
    if (!summaryRan) throw new OodkitError(`the summary did not run (a cell was stopped); launch again to continue (${outDir})`);
    if (existsSync(join(outDir, 'summary.csv'))) writeOut(readFileSync(join(outDir, 'summary.csv'), 'utf8').trimEnd());
    writeOut(`results: ${outDir} (summary.csv, summary.json, table.md, tables/, report.html; cell logs in logs/)`);
    const failuresFile = join(outDir, 'failures.json');
    const failed = ends.filter((e) => e.state === 'failed' && e.cell.stage !== 'summary');
    if (existsSync(failuresFile) || failed.length > 0) {
      const failures = existsSync(failuresFile) ? (JSON.parse(readFileSync(failuresFile, 'utf8')) as BenchFailure[]) : [];
      if (failures.length > 0) throw failuresError(failures, outDir);
      throw new OodkitError(`${failed.length} cell(s) failed: ${failed.map((e) => `${e.cell.id} (${e.log})`).join(', ')}`);
    }
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onTerm);
  }
}

/** `--status`: one line per cell (done, running, queued, failed with the reason, ...) and the tally, per benchmark. */
export async function benchStatusCommand(run: CliRun): Promise<void> {
  const runs = await benchmarkRuns(run);
  for (const { plan, outDir, name } of runs) {
    if (runs.length > 1) writeOut(`\n${name}`);
    const launch = existsSync(outDir) ? readLaunchRecord(outDir) : undefined;
    const jobIds = (launch?.jobs ?? []).map((j) => j.jobId);
    const queue = launch?.launcher === 'slurm' ? queueStates(jobIds) : undefined;
    const accounting = launch?.launcher === 'slurm' ? accountingStates(jobIds) : undefined;
    const lines = benchStatus({
      plan,
      outDir,
      ...(launch ? { launch } : {}),
      ...(queue ? { queue } : {}),
      ...(accounting ? { accounting } : {}),
    });
    const width = Math.max(...lines.map((l) => l.id.length));
    for (const line of lines)
      writeOut(
        `${line.id.padEnd(width)}  ${line.state.padEnd(11)}${line.job ? ` [${line.job}]` : ''}${line.detail ? `  ${line.detail}` : ''}`,
      );
    const tally = new Map<string, number>();
    for (const line of lines) tally.set(line.state, (tally.get(line.state) ?? 0) + 1);
    const source = launch
      ? `${launch.launcher} launch of ${launch.launchedAt}${launch.launcher === 'slurm' && queue === undefined ? '; squeue not available' : ''}`
      : 'no launch recorded';
    writeOut(`${[...tally].map(([s, n]) => `${n} ${s}`).join(', ')} — ${outDir} (${source})`);
  }
}

/** `--cancel`: scancel the recorded jobs (SLURM), or stop the local launcher (SIGTERM: cells checkpoint). */
export async function benchCancelCommand(run: CliRun): Promise<void> {
  const runs = await benchmarkRuns(run);
  const launched = runs.filter((r) => existsSync(r.outDir) && readLaunchRecord(r.outDir));
  if (launched.length === 0)
    throw new UsageError(
      `--cancel: nothing was launched for this config (no ${runs.map((r) => join(r.outDir, 'launch.json')).join(', ')})`,
    );
  const signalled = new Set<number>();
  for (const { outDir } of launched) {
    const launch = readLaunchRecord(outDir)!;
    if (launch.launcher === 'slurm') {
      const ids = (launch.jobs ?? []).map((j) => j.jobId);
      const refused = cancelJobs(ids);
      if (refused) throw new OodkitError(`scancel ${ids.join(' ')}: ${refused}`);
      writeOut(`cancelled jobs ${ids.join(', ')} (running cells get SIGTERM and checkpoint; launch again to continue)`);
      continue;
    }
    const owner = launch.process;
    if (signalled.has(owner.pid)) continue;
    if (processLiveness(owner) !== 'alive') {
      writeOut(`the local launcher (pid ${owner.pid} on ${owner.host}) is not running on this host; nothing to cancel`);
      continue;
    }
    process.kill(owner.pid, 'SIGTERM');
    signalled.add(owner.pid);
    writeOut(`sent SIGTERM to the local launcher (pid ${owner.pid}); its cells checkpoint and stop`);
  }
}
