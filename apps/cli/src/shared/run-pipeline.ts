import { resolve } from 'node:path';
import { computeOptionsFrom, initCompute } from '@oodkit/compute';
import { ConfigError, assertWritableDir, type ConfigSources, type LogLevel, type Logger } from '@oodkit/core';
import { cacheDir } from '@oodkit/data';
import type { PipelineRunOptions, RunnablePipeline } from '@oodkit/pipelines';
import type { CommandInputs } from './options.js';
import { createReporter } from './progress.js';
import type { CliRun } from './run-config.js';

/** Pipelines that read no dataset (so a broken cache folder does not concern them). */
const NO_DATA_PIPELINES = new Set(['eval_features']);

/** `key (file:line)` / `key (default)`: where a config value came from, for error messages. */
export function keyOrigin(key: string, sources: ConfigSources): string {
  const where = sources.get(key);
  if (!where) return `${key} (default)`;
  return `${key} (${where.file}${where.line !== undefined ? `:${where.line}` : ''})`;
}

/**
 * Output and cache folders must be writable before any work starts; the error names the option, the
 * config key (with file:line) or the environment variable the folder came from.
 */
export function checkOutputFolders(run: CliRun, inputs: Pick<CommandInputs, 'out'>, options: { readsData: boolean }): void {
  const config = run.config.value;
  const outputDir = typeof config.output_dir === 'string' ? config.output_dir : 'results';
  const folder = resolve(outputDir, typeof config.exp_name === 'string' ? config.exp_name : '');
  if (inputs.out !== undefined) {
    assertWritableDir(folder, '--out');
  } else {
    // The parent first: a file given as output_dir is blamed on output_dir, not on exp_name below it.
    assertWritableDir(resolve(outputDir), keyOrigin('output_dir', run.config.sources));
    assertWritableDir(folder, keyOrigin(typeof config.exp_name === 'string' ? 'exp_name' : 'output_dir', run.config.sources));
  }
  if (options.readsData) checkCacheFolder(run);
}

/** The cache of converted package data (OODKIT_CACHE_DIR, else `cache_dir`, else the project's .cache/oodkit). */
export function checkCacheFolder(run: Pick<CliRun, 'config'>): void {
  const config = run.config.value;
  const what = process.env.OODKIT_CACHE_DIR
    ? 'OODKIT_CACHE_DIR'
    : typeof config.cache_dir === 'string'
      ? keyOrigin('cache_dir', run.config.sources)
      : 'the cache folder (set OODKIT_CACHE_DIR or cache_dir to move it)';
  assertWritableDir(cacheDir(config), what);
}

export interface RunPipelineSettings {
  /** Logger name of the progress lines (default: the pipeline's name). */
  readonly name?: string;
  /** Progress callbacks built on the run's logger (training hooks, generator progress). */
  readonly progress?: (logger: Logger) => Pick<PipelineRunOptions, 'hooks' | 'onGenerator'>;
  /** Checks of the command's input paths, run after the output folders' and before the backend starts. */
  readonly checkInputs?: () => void;
}

/**
 * The one way every command runs a pipeline, `oodkit run` included: the config's `pipeline: {name,
 * args}` (a command preset sets it) is built from the registry after the output and cache folders are
 * checked and the compute backend is up, and runs with the command's `--resume` / `--overwrite` and a
 * progress reporter (bars on a terminal, periodic lines otherwise). Returns the pipeline's result and
 * the logger for the command's closing lines.
 */
export async function runPipeline(
  run: CliRun,
  inputs: CommandInputs,
  settings: RunPipelineSettings = {},
): Promise<{ result: unknown; logger: Logger }> {
  const config = run.config.value;
  const section = config.pipeline as { name: string } | undefined;
  if (section === undefined)
    throw new ConfigError([
      { path: 'pipeline', message: `required: which pipeline to run, one of ${run.app.registry.names('pipeline').join(', ')}` },
    ]);
  checkOutputFolders(run, inputs, { readsData: !NO_DATA_PIPELINES.has(section.name) });
  settings.checkInputs?.();
  const level = (config.log_level as LogLevel | undefined) ?? 'info';
  const reporter = createReporter(level, Boolean(process.stderr.isTTY), settings.name ?? section.name);
  try {
    await initCompute({ ...computeOptionsFrom(config.compute), logger: reporter.logger });
    const pipeline = await run.app.registry.build<RunnablePipeline>('pipeline', section as never, run.buildContext('pipeline'), 'pipeline');
    const result = await pipeline.run({
      ...settings.progress?.(reporter.logger),
      logger: reporter.logger,
      resume: inputs.resume,
      overwrite: inputs.overwrite,
      onEvent: (event) => reporter.onEvent(event),
    });
    return { result, logger: reporter.logger };
  } finally {
    reporter.stop();
  }
}
