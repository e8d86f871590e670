import type { Batch } from './dataset.js';
import type { Classifier } from './network.js';

/** Length of a training run, so schedules (cosine per step) know their horizon. */
export interface TrainingPlan {
  readonly epochs: number;
  readonly stepsPerEpoch: number;
}

export interface StepResult {
  readonly loss: number;
}

/**
 * A trainer owns the loss and the optimiser; the pipeline owns the data streams. SIO swaps the
 * stream, never the trainer. Owner: libs/trainers.
 */
export interface Trainer {
  readonly name: string;
  /** True for the outlier-exposure family: `step` receives an outlier batch too. */
  readonly needsOutliers: boolean;
  /**
   * How the outlier stream ends a pass (OE family). 'short-last' (default, OpenOOD's OETrainer): the
   * last batch of a pass may be short. 'at-least-id' (OpenOOD's MixOETrainer): a batch shorter than
   * the step's ID batch restarts the pass.
   */
  readonly outlierBatches?: 'short-last' | 'at-least-id';
  /**
   * Skip the last ID batch of every epoch: no step, no schedule step (OpenOOD's MixOETrainer:
   * `if train_step == len(train_dataiter): continue`). The schedule still spans epochs × steps per epoch.
   */
  readonly skipsLastBatch?: boolean;
  /**
   * A registered network wrapper the method's loss needs (G-ODIN: `godin_net`). The train pipeline
   * wraps the configured network in it (`{name, args: {backbone: <network>}}`) unless it already is one.
   */
  readonly networkWrapper?: string;
  /** The learning rate the next step will use, for trainers with a schedule (recorders log it). */
  readonly learningRate?: number;
  init(network: Classifier, plan: TrainingPlan): void;
  step(batch: Batch, outliers?: Batch): Promise<StepResult>;
  /** Optimiser and schedule state for checkpoints (host arrays and numbers only). */
  getState(): TrainerState;
  setState(state: TrainerState): void;
}

export interface TrainerState {
  readonly step: number;
  readonly slots: Record<string, Float32Array>;
  readonly extra?: Record<string, unknown>;
}
