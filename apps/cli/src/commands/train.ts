import type { Command } from 'commander';
import { type Logger } from '@oodkit/core';
import type { TrainHooks, TrainRunSummary } from '@oodkit/pipelines';
import {
  commandInputs,
  deprecatedOption,
  deprecatedOptionNotice,
  flagOverride,
  withConfigOptions,
  type CommandInputs,
} from '../shared/options.js';
import { loadRunFromInputs } from '../shared/run-config.js';
import { runPipeline } from '../shared/run-pipeline.js';

const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(2)}%`);

/** Progress as log lines: one per epoch, one per checkpoint, a step line every `every` steps. */
export function loggingHooks(logger: Logger, extra: TrainHooks = {}, every = 50): TrainHooks {
  let steps = 0;
  return {
    onStart: (info) => {
      steps = info.stepsPerEpoch;
      logger.info(
        info.resumed
          ? `resuming at epoch ${info.position.epoch + 1}, batch ${info.position.stepInEpoch + 1} (step ${info.position.globalStep}) of ${info.epochs}×${info.stepsPerEpoch}`
          : `training ${info.epochs} epochs × ${info.stepsPerEpoch} steps`,
      );
      extra.onStart?.(info);
    },
    onStep: async (info) => {
      if ((info.step + 1) % every === 0 || info.step + 1 === steps)
        logger.debug(`epoch ${info.epoch + 1} step ${info.step + 1}/${steps} loss ${info.loss.toFixed(4)}`);
      await extra.onStep?.(info);
    },
    onValidation: (info) => extra.onValidation?.(info),
    onEpochEnd: (r) => {
      logger.info(
        `epoch ${r.epoch + 1}: loss ${r.meanLoss.toFixed(4)}, val acc ${pct(r.valAccuracy)}${r.best ? ' (best)' : ''}, ${r.seconds.toFixed(1)} s`,
      );
      extra.onEpochEnd?.(r);
    },
    onCheckpoint: async (info) => {
      logger.debug(`checkpoint ${info.kind} → ${info.path}`);
      await extra.onCheckpoint?.(info);
    },
  };
}

/**
 * `oodkit train`: the `train` pipeline on the config (the preset replaces any `pipeline:` section);
 * `--resume` continues from `last.ckpt`, `--out` names the run folder.
 */
export async function runTrainCommand(inputs: CommandInputs, hooks: TrainHooks = {}): Promise<TrainRunSummary> {
  const run = await loadRunFromInputs(inputs, { preset: [flagOverride('pipeline', { name: 'train' }, 'oodkit train')] });
  let lastDecile = -1;
  const { result, logger } = await runPipeline(run, inputs, {
    name: 'train',
    progress: (logger) => ({
      hooks: loggingHooks(logger, hooks),
      onGenerator: (p) => {
        // Steps run over all classes of a per-class generator: report every tenth of the whole job.
        const decile = Math.floor((10 * (p.step + 1)) / p.steps);
        if (decile !== lastDecile) {
          lastDecile = decile;
          logger.info(`generator training ${decile * 10}% (loss ${p.loss.toFixed(2)})`);
        }
      },
    }),
  });
  const summary = result as TrainRunSummary;
  logger.info(
    `done: best val acc ${pct(summary.bestValAccuracy)} (epoch ${summary.bestEpoch === null ? '–' : summary.bestEpoch + 1}), test acc ${pct(summary.testAccuracy)}; ` +
      `checkpoints in ${summary.runDir}/checkpoints`,
  );
  return summary;
}

export function registerTrain(program: Command): void {
  withConfigOptions(
    program
      .command('train')
      .description('train a network from config (any trainer; add an sio: block for SIO); --resume continues after a kill')
      .addOption(deprecatedOption('--run-dir <dir>', '--out <dir>')),
    { configRequired: true, runFolder: true },
  ).action(async (options: { runDir?: string }, command: Command) => {
    const inputs = commandInputs(command);
    const notices = options.runDir !== undefined ? [deprecatedOptionNotice('--run-dir', '--out')] : [];
    await runTrainCommand({
      ...inputs,
      ...(options.runDir !== undefined && inputs.out === undefined ? { out: options.runDir } : {}),
      notices: [...inputs.notices, ...notices],
    });
  });
}
