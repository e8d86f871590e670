import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, OodkitError, UsageError, type Batch, type Classifier, type ImageDataset, type Rng, type Trainer } from '@oodkit/core';
import { tf } from '@oodkit/compute';
import { orderedBatches, type OutlierStream, type Preprocessor, type TrainStream } from '@oodkit/data';
import { BaseRecorder } from '../recorders/base-recorder.js';
import type { TrainRecorder } from '../recorders/recorder.js';
import {
  captureCheckpoint,
  readCheckpoint,
  restoreVariables,
  trainerStateFrom,
  type CheckpointPosition,
  type EpochRecord,
} from './checkpoint.js';

/** Loss became NaN or ±Infinity; the message names the step so the run can be inspected. */
export class TrainingDivergedError extends OodkitError {
  constructor(
    readonly globalStep: number,
    readonly epoch: number,
    readonly stepInEpoch: number,
    readonly loss: number,
  ) {
    super(
      `training diverged: loss is ${loss} at step ${globalStep} (epoch ${epoch + 1}, batch ${stepInEpoch + 1}); ` +
        'the last checkpoint is from before this step — lower the learning rate or check the data',
    );
  }
}

/**
 * The run was asked to stop (SIGTERM before a scheduler's time limit, preemption): `last` holds the
 * position reached, so the same command resumes it exactly.
 */
export class TrainingInterruptedError extends OodkitError {
  constructor(
    readonly checkpoint: string,
    readonly position: CheckpointPosition,
  ) {
    super(
      `training stopped on request at epoch ${position.epoch + 1}, step ${position.stepInEpoch} (global step ${position.globalStep}); ` +
        `checkpoint ${checkpoint} — run the same command again to continue`,
    );
  }
}

/** Progress callbacks; the CLI attaches progress bars, tests record events. All optional. */
export interface TrainHooks {
  onStart?(info: { epochs: number; stepsPerEpoch: number; position: CheckpointPosition; resumed: boolean; stream: string }): void;
  onStep?(info: { epoch: number; step: number; globalStep: number; loss: number }): void | Promise<void>;
  onValidation?(info: { epoch: number; accuracy: number }): void;
  onEpochEnd?(info: EpochRecord & { best: boolean }): void;
  onCheckpoint?(info: { kind: 'last' | 'best'; path: string; position: CheckpointPosition }): void | Promise<void>;
}

export interface ValidationSet {
  readonly dataset: ImageDataset;
  /** The test-time chain (deterministic). */
  readonly preprocess: readonly Preprocessor[];
  readonly batchSize: number;
}

export interface TrainLoopOptions {
  readonly network: Classifier;
  /** Built but not initialised: the loop calls `init` with the plan (and `setState` on resume). */
  readonly trainer: Trainer;
  readonly stream: TrainStream;
  /** Required exactly when `trainer.needsOutliers`. */
  readonly outliers?: OutlierStream;
  readonly validation?: ValidationSet;
  readonly epochs: number;
  /** Checkpoints go to `<outputDir>/checkpoints/{last,best}.ckpt`. */
  readonly outputDir: string;
  /** Also write `last` every N steps inside an epoch (0 = only at epoch ends). */
  readonly checkpointEvery?: number;
  readonly resume?: boolean;
  readonly configHash: string;
  readonly seed: number;
  /** Root stream of the run, recorded in checkpoints; the stream objects derive their own from it. */
  readonly rng: Rng;
  readonly config?: Record<string, unknown>;
  readonly hooks?: TrainHooks;
  /** Writes checkpoints and logs (the `recorder:` key); default: the base recorder. */
  readonly recorder?: TrainRecorder;
  /** Checked after every step: once aborted, `last` is written at the current step and the loop throws {@link TrainingInterruptedError}. */
  readonly stopSignal?: AbortSignal;
}

export interface TrainResult {
  readonly history: readonly EpochRecord[];
  readonly bestValAccuracy: number | null;
  readonly bestEpoch: number | null;
  readonly lastCheckpoint: string;
  readonly bestCheckpoint: string | null;
  readonly resumedFrom: CheckpointPosition | null;
  readonly globalStep: number;
}

/** Resume refused: the checkpoint was trained under another training config. */
export function resumeMismatch(checkpoint: string, stored: string, now: string): UsageError {
  return new UsageError(
    `${checkpoint}: checkpoint was written under a different training config (hash ${stored}, now ${now}); ` +
      'resume needs the same config — use --overwrite to move this run aside and start over, or another output folder',
  );
}

async function nextBatch(batches: AsyncGenerator<Batch>, what: string, epoch: number, step: number): Promise<Batch> {
  const next = await batches.next();
  if (next.done) throw new OodkitError(`the ${what} stream ended before step ${step + 1} of epoch ${epoch + 1}`);
  return next.value;
}

export function checkpointPaths(outputDir: string): { last: string; best: string } {
  return { last: join(outputDir, 'checkpoints', 'last.ckpt'), best: join(outputDir, 'checkpoints', 'best.ckpt') };
}

/** Top-1 accuracy of `network` on a dataset (labels -1 are skipped). */
export async function evaluateAccuracy(network: Classifier, set: ValidationSet, rng: Rng): Promise<number> {
  const { dataset, preprocess, batchSize } = set;
  let correct = 0;
  let counted = 0;
  for await (const batch of orderedBatches(dataset, { batchSize, preprocess, rng })) {
    let predicted: Int32Array;
    try {
      const pred = tf.tidy(() => network.forward(batch.x, false).argMax(1));
      predicted = (await pred.data()) as Int32Array;
      pred.dispose();
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
    for (let i = 0; i < batch.indices.length; i++) {
      const label = dataset.labels[batch.indices[i]!]!;
      if (label < 0) continue;
      counted++;
      if (predicted[i] === label) correct++;
    }
  }
  if (counted === 0) throw new DataError(`validation set '${dataset.name}' has no labelled samples`);
  return correct / counted;
}

/**
 * Epochs of `trainer.step` over the stream, validation accuracy per epoch, `last` and `best`
 * checkpoints written atomically. With `resume`, continues from `last` — mid-epoch included, since
 * the stream recomputes any epoch's batches from the seed — to the same weights as an unbroken run.
 */
export async function trainLoop(options: TrainLoopOptions): Promise<TrainResult> {
  const { network, trainer, stream, outliers, validation, epochs, outputDir, hooks = {} } = options;
  if (!Number.isInteger(epochs) || epochs < 1) throw new UsageError(`epochs must be a positive integer, got ${epochs}`);
  if (trainer.needsOutliers && !outliers)
    throw new UsageError(`trainer '${trainer.name}' needs an outlier dataset (outlier exposure); none is configured`);
  const stepsPerEpoch = stream.stepsPerEpoch;
  const every = options.checkpointEvery ?? 0;
  const recorder = options.recorder ?? new BaseRecorder({ save_all_models: false });
  const paths = { last: recorder.checkpointPath(outputDir, 'last'), best: recorder.checkpointPath(outputDir, 'best') };
  trainer.init(network, { epochs, stepsPerEpoch });
  const trainedSteps = trainer.skipsLastBatch && stepsPerEpoch > 1 ? stepsPerEpoch - 1 : stepsPerEpoch;

  let position: CheckpointPosition = { epoch: 0, stepInEpoch: 0, globalStep: 0 };
  let history: EpochRecord[] = [];
  let bestValAccuracy: number | null = null;
  let bestEpoch: number | null = null;
  let partial = { lossSum: 0, steps: 0, seconds: 0 };
  let resumedFrom: CheckpointPosition | null = null;

  if (options.resume && existsSync(paths.last)) {
    const checkpoint = await readCheckpoint(paths.last);
    const { meta } = checkpoint;
    if (meta.configHash !== options.configHash) throw resumeMismatch(paths.last, meta.configHash, options.configHash);
    if (meta.position.epoch > epochs)
      throw new UsageError(`${paths.last}: checkpoint is at epoch ${meta.position.epoch}, beyond the configured ${epochs}`);
    restoreVariables(network, checkpoint.variables, paths.last);
    trainer.setState(trainerStateFrom(meta, checkpoint.slots));
    if (meta.rng.network && network.setRandomState) network.setRandomState(meta.rng.network);
    position = meta.position;
    history = [...meta.history];
    bestValAccuracy = meta.bestValAccuracy;
    bestEpoch = meta.bestEpoch;
    partial = meta.partialEpoch ? { ...meta.partialEpoch } : partial;
    resumedFrom = position;
  }

  await recorder.open({ outputDir, resumedFrom });
  try {
    return await runEpochs();
  } finally {
    await recorder.close();
  }

  async function runEpochs(): Promise<TrainResult> {
    hooks.onStart?.({ epochs, stepsPerEpoch, position, resumed: resumedFrom !== null, stream: stream.describe() });

    const save = async (
      kind: 'last' | 'best',
      at: CheckpointPosition,
      inProgress: typeof partial | undefined,
      epochEnd: EpochRecord | null,
    ) => {
      const checkpoint = captureCheckpoint(network, trainer, {
        kind,
        position: at,
        configHash: options.configHash,
        seed: options.seed,
        rng: { run: options.rng.getState(), ...(network.getRandomState ? { network: network.getRandomState() } : {}) },
        bestValAccuracy,
        bestEpoch,
        history,
        ...(inProgress ? { partialEpoch: inProgress } : {}),
        ...(options.config ? { config: options.config } : {}),
      });
      const path = await recorder.saveCheckpoint(checkpoint, epochEnd);
      await hooks.onCheckpoint?.({ kind, path, position: at });
    };

    const evalRng = options.rng.derive('validation');
    let globalStep = position.globalStep;
    for (let epoch = position.epoch; epoch < epochs; epoch++) {
      const plan = stream.epochIndices(epoch);
      if (plan.length !== stepsPerEpoch)
        throw new OodkitError(`stream yielded ${plan.length} batches for epoch ${epoch}, expected ${stepsPerEpoch}`);
      const firstStep = epoch === position.epoch ? position.stepInEpoch : 0;
      if (firstStep === 0) partial = { lossSum: 0, steps: 0, seconds: 0 };
      let clock = performance.now();
      // Both streams are pure functions of (seed, epoch, step), read ahead in lockstep from firstStep.
      const idBatches = stream.batches(epoch, plan, firstStep);
      const outlierBatches = outliers?.batches(
        epoch,
        outliers.epochIndices(
          epoch,
          plan.map((b) => b.indices.length),
        ),
        firstStep,
      );
      try {
        for (let step = firstStep; step < trainedSteps; step++) {
          const batch = await nextBatch(idBatches, 'training', epoch, step);
          const outlierBatch = outlierBatches ? await nextBatch(outlierBatches, 'outlier', epoch, step) : undefined;
          let loss: number;
          const lr = trainer.learningRate ?? null;
          const stepStart = performance.now();
          try {
            ({ loss } = await trainer.step(batch, outlierBatch));
          } finally {
            batch.x.dispose();
            batch.y.dispose();
            outlierBatch?.x.dispose();
            outlierBatch?.y.dispose();
          }
          if (!Number.isFinite(loss)) throw new TrainingDivergedError(globalStep, epoch, step, loss);
          globalStep++;
          partial.lossSum += loss;
          partial.steps++;
          await recorder.step({ step: globalStep, epoch, stepInEpoch: step, loss, lr, seconds: (performance.now() - stepStart) / 1000 });
          await hooks.onStep?.({ epoch, step, globalStep, loss });
          // At an epoch's last step the epoch ends first (validation, best, last): the check after it stops there.
          if (options.stopSignal?.aborted && step + 1 < trainedSteps) {
            partial.seconds += (performance.now() - clock) / 1000;
            const at = { epoch, stepInEpoch: step + 1, globalStep };
            await save('last', at, partial, null);
            throw new TrainingInterruptedError(paths.last, at);
          }
          if (every > 0 && (step + 1) % every === 0 && step + 1 < trainedSteps) {
            const now = performance.now();
            partial.seconds += (now - clock) / 1000;
            clock = now;
            await save('last', { epoch, stepInEpoch: step + 1, globalStep }, partial, null);
          }
        }
      } finally {
        await idBatches.return(undefined);
        await outlierBatches?.return(undefined);
      }
      partial.seconds += (performance.now() - clock) / 1000;
      const valAccuracy = validation ? await evaluateAccuracy(network, validation, evalRng) : null;
      if (valAccuracy !== null) hooks.onValidation?.({ epoch, accuracy: valAccuracy });
      const record: EpochRecord = { epoch, meanLoss: partial.lossSum / Math.max(1, partial.steps), valAccuracy, seconds: partial.seconds };
      history = [...history, record];
      // The recorder's rule; the base recorder's is OpenOOD's `acc >= best_acc` (a tie replaces the best).
      const isBest = valAccuracy !== null && recorder.isBest(valAccuracy, bestValAccuracy);
      if (isBest) {
        bestValAccuracy = valAccuracy;
        bestEpoch = epoch;
      }
      const next = { epoch: epoch + 1, stepInEpoch: 0, globalStep };
      if (isBest) await save('best', next, undefined, record);
      await save('last', next, undefined, record);
      hooks.onEpochEnd?.({ ...record, best: isBest });
      if (options.stopSignal?.aborted && epoch + 1 < epochs) throw new TrainingInterruptedError(paths.last, next);
    }

    return {
      history,
      bestValAccuracy,
      bestEpoch,
      lastCheckpoint: paths.last,
      bestCheckpoint: existsSync(paths.best) ? paths.best : null,
      resumedFrom,
      globalStep,
    };
  }
}
