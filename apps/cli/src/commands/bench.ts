import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { OodkitError } from '@oodkit/core';
import {
  GENERATOR_QUALITY_COLUMNS,
  generatorQualityRows,
  summaryTableRows,
  type BenchResult,
  type BenchSetResult,
} from '@oodkit/pipelines';
import { commandInputs, flagOverride, withConfigOptions } from '../shared/options.js';
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

/** `oodkit bench`: the `benchmark` pipeline on configs/bench/default.yml + the user's files (+ profile). */
export function registerBench(program: Command): void {
  withConfigOptions(
    program
      .command('bench')
      .description(
        'run the benchmark matrix (trainers × {baseline, +SIO} × seeds × postprocessors); configs/bench/default.yml (embedded MNIST) first, then --config files',
      ),
    { runFolder: true },
  ).action(async (_options: unknown, command: Command) => {
    const inputs = commandInputs(command);
    const run = await loadRunFromInputs(inputs, {
      defaultFiles: BENCH_DEFAULT_FILES,
      preset: [flagOverride('pipeline', { name: 'benchmark' }, 'oodkit bench')],
    });
    const set = (await runPipeline(run, inputs, { name: 'bench' })).result as BenchSetResult;
    for (const result of set.runs) {
      if (set.runs.length > 1) writeOut(`\n${result.benchmark}`);
      writeOut(formatSummaryTable(result));
      writeOut(
        `results: ${result.outDir} (summary.csv, summary.json, table.md, tables/, report.html; also ${join(result.groupDir, 'latest')})`,
      );
    }
    if (set.runs.length > 1) writeOut(`table of every benchmark: ${set.tablePath}`);
    const failures = set.runs.flatMap((r) => r.failures.map((f) => ({ ...f, cell: `${r.benchmark} ${f.cell}` })));
    if (failures.length > 0) {
      const list = failures.map((f) => `  - ${f.postprocessor} on ${f.cell}: ${f.message}`).join('\n');
      throw new OodkitError(`${failures.length} evaluation(s) failed (the others are complete; a re-run retries only these):\n${list}`);
    }
  });
}
