import type { Command } from 'commander';
import { UsageError, createLogger, loadRun, type LogLevel, type Logger } from '@oodkit/core';
import { runTraining, type TrainHooks, type TrainRunSummary } from '@oodkit/pipelines';
import { builtinModules } from '../modules.js';

export interface TrainCommandOptions {
  readonly config: readonly string[];
  /** `--a.b=value` overrides, applied after the files. */
  readonly overrides?: readonly string[];
  readonly resume?: boolean;
  /** Move an existing run folder aside (`<dir>.replaced-<UTC time>`) and start over. */
  readonly overwrite?: boolean;
  readonly runDir?: string;
  readonly logger?: Logger;
  /** Extra hooks (progress bars); the command's own log lines are always attached. */
  readonly hooks?: TrainHooks;
}

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

/** `oodkit train`: the train pipeline from config files (+ overrides); `--resume` continues `last.ckpt`. */
export async function runTrainCommand(options: TrainCommandOptions): Promise<TrainRunSummary> {
  if (options.config.length === 0) throw new UsageError('oodkit train needs --config <file...>');
  const { app, config } = await loadRun({ files: options.config, overrides: options.overrides ?? [], builtins: builtinModules });
  const value = config.value;
  const logger = options.logger ?? createLogger((value.log_level as LogLevel | undefined) ?? 'info', 'train');
  let lastDecile = -1;
  const summary = await runTraining(value, {
    registry: app.registry,
    logger,
    resume: options.resume ?? false,
    overwrite: options.overwrite ?? false,
    runDir: options.runDir,
    hooks: loggingHooks(logger, options.hooks),
    onGenerator: (p) => {
      // Steps run over all classes of a per-class generator: report every tenth of the whole job.
      const decile = Math.floor((10 * (p.step + 1)) / p.steps);
      if (decile !== lastDecile) {
        lastDecile = decile;
        logger.info(`generator training ${decile * 10}% (loss ${p.loss.toFixed(2)})`);
      }
    },
  });
  logger.info(
    `done: best val acc ${pct(summary.bestValAccuracy)} (epoch ${summary.bestEpoch === null ? '–' : summary.bestEpoch + 1}), test acc ${pct(summary.testAccuracy)}; ` +
      `checkpoints in ${summary.runDir}/checkpoints`,
  );
  return summary;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a network from config (any trainer; add an sio: block for SIO); --resume continues after a kill')
    .requiredOption('--config <files...>', 'YAML config files, merged in order (e.g. configs/train/lenet_base.yml)')
    .option('--resume', 'continue from <run dir>/checkpoints/last.ckpt (same config required)', false)
    .option('--overwrite', 'move an existing run folder aside (<dir>.replaced-<UTC time>) and train from scratch', false)
    .option('--run-dir <dir>', 'run folder (default <output_dir>/<exp_name or derived name>)')
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText('after', '\nOverrides: --a.b=value after the options, e.g. --train.epochs=2 --seed=1')
    .action(async (opts: { config: string[]; resume: boolean; overwrite: boolean; runDir?: string }, command: Command) => {
      // --config is variadic: override tokens after it land in opts.config; split them back out.
      const files = opts.config.filter((t) => !t.startsWith('--'));
      const stray = opts.config.filter((t) => t.startsWith('--'));
      await runTrainCommand({
        config: files,
        overrides: [...stray, ...command.args],
        resume: opts.resume,
        overwrite: opts.overwrite,
        runDir: opts.runDir,
      });
    });
}
