import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { OodkitError, UsageError, createLogger, type LogLevel, type Logger } from '@oodkit/core';
import { runBenchmark, summaryTableRows, type BenchEvent, type BenchResult } from '@oodkit/pipelines';
import { loadRunFromCommand, withConfigOptions, writeOut } from '../shared/run-config.js';

const CONFIG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'configs', 'bench');

/** The files a bench run merges: defaults, the user's files, then the profile (so it can shrink any benchmark). */
export function benchConfigFiles(userFiles: readonly string[], profile: string | undefined): string[] {
  const files = [join(CONFIG_DIR, 'default.yml'), ...userFiles];
  if (profile !== undefined && profile !== 'default') {
    const file = join(CONFIG_DIR, 'profiles', `${profile}.yml`);
    if (!existsSync(file)) throw new UsageError(`unknown --profile '${profile}' (no ${file})`);
    files.push(file);
  }
  return files;
}

interface Reporter {
  readonly logger: Logger;
  onEvent(event: BenchEvent): void;
  stop(): void;
}

/** Live bars with ETA on a terminal; plain log lines every 15 s (and at each stage end) otherwise. */
function createReporter(level: LogLevel, tty: boolean): Reporter {
  if (!tty) {
    const logger = createLogger(level, 'bench');
    let last = 0;
    let stage: { label: string; total: number; unit: string } | undefined;
    return {
      logger,
      onEvent(event) {
        if (event.type === 'plan') logger.info(`plan: ${event.trainings} trained models, ${event.evaluations} evaluations`);
        if (event.type === 'stage') {
          stage = event;
          last = Date.now();
          if (event.stage !== 'eval') logger.info(`${event.label} …`);
        }
        if (event.type === 'progress' && stage && Date.now() - last > 15_000) {
          last = Date.now();
          const total = event.total ?? stage.total;
          logger.info(`${stage.label}: ${event.current.toFixed(1)}/${total} ${stage.unit}${event.detail ? ` · ${event.detail}` : ''}`);
        }
        if (event.type === 'stage-end' && event.stage !== 'eval')
          logger.info(`${event.label}: ${event.cached ? 'cached' : `done in ${event.seconds.toFixed(1)} s`}`);
        if (event.type === 'cell') logger.info(event.line);
      },
      stop: () => undefined,
    };
  }
  const multibar = new cliProgress.MultiBar(
    {
      format: ' {label} |{bar}| {percentage}% · ETA {eta_formatted} · {detail}',
      barsize: 28,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const logger = createLogger(level, 'bench', (line) => multibar.log(`${line}\n`));
  let overall: cliProgress.SingleBar | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let done = 0;
  return {
    logger,
    onEvent(event) {
      switch (event.type) {
        case 'plan':
          overall = multibar.create(event.evaluations, 0, { label: 'evaluations'.padEnd(26), detail: '' });
          break;
        case 'stage':
          bar?.stop();
          if (bar) multibar.remove(bar);
          bar = multibar.create(event.total, 0, { label: event.label.slice(0, 26).padEnd(26), detail: '' });
          break;
        case 'progress':
          if (event.total !== undefined) bar?.setTotal(event.total);
          bar?.update(event.current, { detail: event.detail ?? '' });
          break;
        case 'stage-end':
          bar?.update(bar.getTotal());
          if (event.stage === 'eval') overall?.update(++done);
          else multibar.log(`${event.label}: ${event.cached ? 'cached' : `${event.seconds.toFixed(1)} s`}\n`);
          break;
        case 'cell':
          multibar.log(`${event.line}\n`);
          break;
      }
    },
    stop() {
      multibar.stop();
    },
  };
}

export function formatSummaryTable(result: BenchResult): string {
  const { head, rows } = summaryTableRows(result.summary);
  const table = new Table({ head, style: { head: [], border: [], compact: true } });
  for (const row of rows) table.push(row);
  return table.toString();
}

export function registerBench(program: Command): void {
  withConfigOptions(
    program
      .command('bench')
      .description('run the benchmark matrix (trainers × {baseline, +SIO} × seeds × postprocessors); default: the embedded MNIST benchmark')
      .option('--profile <name>', 'settings profile from configs/bench/profiles (quick: small subsets, 1 seed)'),
    { required: false },
  ).action(async (options: { config?: string[]; profile?: string }, command: Command) => {
    const files = benchConfigFiles(options.config ?? [], options.profile);
    const run = await loadRunFromCommand(command, { files });
    const config = run.config.value;
    const reporter = createReporter((config.log_level as LogLevel | undefined) ?? 'info', Boolean(process.stderr.isTTY));
    let result: BenchResult;
    try {
      result = await runBenchmark(config, { registry: run.app.registry, logger: reporter.logger, onEvent: (e) => reporter.onEvent(e) });
    } finally {
      reporter.stop();
    }
    writeOut(formatSummaryTable(result));
    writeOut(`results: ${result.outDir} (summary.csv, summary.json, tables/, report.html; also ${join(result.groupDir, 'latest')})`);
    if (result.failures.length > 0) {
      const list = result.failures.map((f) => `  - ${f.postprocessor} on ${f.cell}: ${f.message}`).join('\n');
      throw new OodkitError(
        `${result.failures.length} evaluation(s) failed (the others are complete; a re-run retries only these):\n${list}`,
      );
    }
  });
}
