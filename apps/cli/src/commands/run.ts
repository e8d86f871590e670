import type { Command } from 'commander';
import { computeOptionsFrom, initCompute } from '@oodkit/compute';
import { ConfigError } from '@oodkit/core';
import type { RunnablePipeline } from '@oodkit/pipelines';
import { loadRunFromCommand, withConfigOptions, writeOut } from '../shared/run-config.js';

/**
 * `oodkit run --config ...`: builds the config's `pipeline: {name, args}` from the registry and runs
 * it — train, train_oe, test_acc, feat_extract, test_ood, benchmark, or a plugin's pipeline.
 */
export function registerRun(program: Command): void {
  withConfigOptions(
    program
      .command('run')
      .description("run the config's pipeline (pipeline: {name, args}); `oodkit list pipeline` shows them")
      .option('--resume', 'continue an interrupted training run from its last checkpoint')
      .option('--overwrite', 'move an existing output folder aside (<dir>.replaced-<UTC time>) and start over'),
  ).action(async (options: { resume?: boolean; overwrite?: boolean }, command: Command) => {
    const run = await loadRunFromCommand(command);
    const section = run.config.value.pipeline;
    if (section === undefined)
      throw new ConfigError([
        { path: 'pipeline', message: `required: which pipeline to run, one of ${run.app.registry.names('pipeline').join(', ')}` },
      ]);
    await initCompute({ ...computeOptionsFrom(run.config.value.compute), logger: run.logger });
    const pipeline = await run.app.registry.build<RunnablePipeline>('pipeline', section as never, run.buildContext('pipeline'), 'pipeline');
    const result = await pipeline.run({ logger: run.logger, resume: options.resume ?? false, overwrite: options.overwrite ?? false });
    writeOut(JSON.stringify(summaryOf(result), null, 2));
  });
}

/** Large arrays (histories, scores) are in the result folder; stdout gets the small fields. */
function summaryOf(result: unknown): unknown {
  if (!result || typeof result !== 'object') return result;
  return Object.fromEntries(
    Object.entries(result).filter(
      ([, v]) => !(Array.isArray(v) && v.length > 50) && !(typeof v === 'object' && v !== null && ArrayBuffer.isView(v)),
    ),
  );
}
