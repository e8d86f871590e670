import type { Command } from 'commander';
import { commandInputs, withConfigOptions } from '../shared/options.js';
import { loadRunFromInputs, writeOut } from '../shared/run-config.js';
import { runPipeline } from '../shared/run-pipeline.js';

/**
 * `oodkit run --config ...`: builds the config's `pipeline: {name, args}` from the registry and runs
 * it — train, train_oe, test_acc, feat_extract, test_ood, eval, eval_features, benchmark, or a plugin's
 * pipeline. The other commands are presets of this path.
 */
export function registerRun(program: Command): void {
  withConfigOptions(
    program.command('run').description("run the config's pipeline (pipeline: {name, args}); `oodkit list pipeline` shows them"),
    { configRequired: true, runFolder: true },
  ).action(async (_options: unknown, command: Command) => {
    const inputs = commandInputs(command);
    const { result } = await runPipeline(await loadRunFromInputs(inputs), inputs);
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
