import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import Table from 'cli-table3';
import { UsageError } from '@oodkit/core';
import {
  GENERATOR_QUALITY_COLUMNS,
  generatorQualityRows,
  summaryTableRows,
  type BenchResult,
  type BenchSetResult,
} from '@oodkit/pipelines';
import { commandInputs, flagOverride, overrideTokensOf, withConfigOptions } from '../shared/options.js';
import { benchCancelCommand, benchStatusCommand, failuresError, launchBench, runOneCell, runWorker } from '../launch/bench-launch.js';
import { loadRunFromInputs, writeOut } from '../shared/run-config.js';
import { runPipeline } from '../shared/run-pipeline.js';

const CONFIG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'configs', 'bench');

/** What every bench run merges first: the embedded MNIST matrix; the user's files and the profile go after it. */
export const BENCH_DEFAULT_FILES: readonly string[] = [join(CONFIG_DIR, 'default.yml')];

export function formatSummaryTable(result: BenchResult): string {
  const { head, rows } = summaryTableRows(result.summary);
  const table = new Table({ head, style: { head: [], border: [], compact: true } });
  for (const row of rows) table.push(row);
  if (result.generatorQuality.length === 0) return table.toString();
  const quality = new Table({ head: GENERATOR_QUALITY_COLUMNS, style: { head: [], border: [], compact: true } });
  for (const row of generatorQualityRows(result.generatorQuality)) quality.push(row);
  return `${table.toString()}\nsynthetic data quality (judge: base model, seed ${result.generatorQuality[0]!.judge.seed}, real data only)\n${quality.toString()}`;
}

interface BenchFlags {
  launcher?: string;
  jobs?: string;
  partition?: string;
  account?: string;
  time?: string;
  cpusPerCell?: string;
  gpusPerCell?: string;
  mem?: string;
  sbatchArgs?: string;
  status?: boolean;
  cancel?: boolean;
  cell?: string;
  cellRun?: string;
  cellBenchmark?: string;
  worker?: boolean;
}

const count = (flag: string, value: string, min: number) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag}: expected an integer ≥ ${min}, got '${value}'`);
  return n;
};

const cellBenchmark = (value: string | undefined) => (value === undefined ? undefined : count('--cell-benchmark', value, 0));

/** The launcher flags as overrides of the `launcher:` keys (so a config file can set them too). */
function launcherOverrides(flags: BenchFlags) {
  const o = (path: string, value: unknown, flag: string) => flagOverride(path, value, flag);
  return [
    ...(flags.launcher !== undefined ? [o('launcher.name', flags.launcher, '--launcher')] : []),
    ...(flags.jobs !== undefined ? [o('launcher.jobs', count('--jobs', flags.jobs, 1), '--jobs')] : []),
    ...(flags.partition !== undefined ? [o('launcher.slurm.partition', flags.partition, '--partition')] : []),
    ...(flags.account !== undefined ? [o('launcher.slurm.account', flags.account, '--account')] : []),
    ...(flags.time !== undefined ? [o('launcher.slurm.time', flags.time, '--time')] : []),
    ...(flags.cpusPerCell !== undefined
      ? [o('launcher.slurm.cpus_per_cell', count('--cpus-per-cell', flags.cpusPerCell, 1), '--cpus-per-cell')]
      : []),
    ...(flags.gpusPerCell !== undefined
      ? [o('launcher.slurm.gpus_per_cell', count('--gpus-per-cell', flags.gpusPerCell, 0), '--gpus-per-cell')]
      : []),
    ...(flags.mem !== undefined ? [o('launcher.slurm.mem', flags.mem, '--mem')] : []),
    ...(flags.sbatchArgs !== undefined
      ? [o('launcher.slurm.extra_args', flags.sbatchArgs.split(/\s+/).filter(Boolean), '--sbatch-args')]
      : []),
  ];
}

/** `oodkit bench`: the `benchmark` pipeline on configs/bench/default.yml + the user's files (+ profile). */
export function registerBench(program: Command): void {
  withConfigOptions(
    program
      .command('bench')
      .description(
        'run the benchmark matrix (trainers × {baseline, +SIO} × seeds × postprocessors); configs/bench/default.yml (embedded MNIST) first, then --config files',
      )
      .option(
        '--launcher <name>',
        'inprocess (default: every cell in this process), local (worker processes, see --jobs) or slurm (job arrays via sbatch; returns at once)',
      )
      .option('-j, --jobs <n>', 'worker processes of --launcher local (launcher.jobs)')
      .option('--partition <name>', 'SLURM partition of every cell (launcher.slurm.partition)')
      .option('--account <name>', 'SLURM account (launcher.slurm.account)')
      .option('--time <limit>', 'SLURM time limit per cell, e.g. 4:00:00 (launcher.slurm.time)')
      .option('--cpus-per-cell <n>', 'sbatch --cpus-per-task (launcher.slurm.cpus_per_cell)')
      .option('--gpus-per-cell <n>', 'sbatch --gres=gpu:<n> (launcher.slurm.gpus_per_cell)')
      .option('--mem <size>', 'sbatch --mem per cell (launcher.slurm.mem)')
      .option('--sbatch-args <flags>', "more sbatch flags, e.g. '--qos=long --constraint=a100' (launcher.slurm.extra_args)")
      .option('--status', "each cell's state for this config: done, running, queued, failed with the reason")
      .option('--cancel', 'cancel the launched cells (scancel, or stop the local launcher)')
      .addOption(new Option('--cell <id>', 'run one cell (an id or <stage>@<index>) in this process').hideHelp())
      .addOption(new Option('--worker', 'run the cells --launcher local sends over IPC').hideHelp())
      .addOption(new Option('--cell-run <run id>', 'the run id the launcher planned; a cell of another config refuses to run').hideHelp())
      .addOption(new Option('--cell-benchmark <index>', 'which entry of bench.benchmarks the cell belongs to').hideHelp()),
    { runFolder: true },
  ).action(async (_options: unknown, command: Command) => {
    const flags = command.opts<BenchFlags>();
    const inputs = commandInputs(command);
    const modes = [
      flags.status && '--status',
      flags.cancel && '--cancel',
      flags.cell !== undefined && '--cell',
      flags.worker && '--worker',
    ].filter(Boolean);
    if (modes.length > 1) throw new UsageError(`${modes.join(' and ')} exclude each other`);
    const run = await loadRunFromInputs(inputs, {
      defaultFiles: BENCH_DEFAULT_FILES,
      preset: [flagOverride('pipeline', { name: 'benchmark' }, 'oodkit bench'), ...launcherOverrides(flags)],
    });
    if (flags.status) return benchStatusCommand(run);
    if (flags.cancel) return benchCancelCommand(run);
    if (flags.cell !== undefined) return runOneCell(run, inputs, flags.cell, flags.cellRun, cellBenchmark(flags.cellBenchmark));
    if (flags.worker) return runWorker(run, inputs, flags.cellRun, cellBenchmark(flags.cellBenchmark));
    const launcher = (run.config.value.launcher as { name?: string } | undefined)?.name ?? 'inprocess';
    if (launcher !== 'inprocess') {
      if (inputs.overwrite)
        throw new UsageError(`--overwrite works with the in-process run only (--launcher ${launcher} continues the run folder)`);
      return launchBench(run, inputs, overrideTokensOf(command));
    }
    const set = (await runPipeline(run, inputs, { name: 'bench' })).result as BenchSetResult;
    for (const result of set.runs) {
      if (set.runs.length > 1) writeOut(`\n${result.benchmark}`);
      writeOut(formatSummaryTable(result));
      writeOut(
        `results: ${result.outDir} (summary.csv, summary.json, table.md, tables/, report.html; also ${join(result.groupDir, 'latest')})`,
      );
    }
    if (set.runs.length > 1) writeOut(`table of every benchmark: ${set.tablePath}`);
    const failures = set.runs.flatMap((r) =>
      r.failures.map((f) => ({ ...f, cell: set.runs.length > 1 ? `${r.benchmark} ${f.cell}` : f.cell })),
    );
    if (failures.length > 0)
      throw failuresError(
        failures,
        set.runs.filter((r) => r.failures.length > 0).map((r) => r.outDir),
      );
  });
}
