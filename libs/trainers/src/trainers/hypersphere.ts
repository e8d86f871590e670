import { tf } from '@oodkit/compute';
import { UsageError, type Batch, type Classifier, type Rng, type StepResult, type TrainingPlan } from '@oodkit/core';
import { isProjectionNetwork, type ProjectionNetwork } from '@oodkit/networks';
import { z } from 'zod';
import { SgdTrainer } from './sgd-trainer.js';

/**
 * Shared by CIDER and NPOS (OpenOOD's cider_trainer.py / npos_trainer.py): the compactness and
 * dispersion losses on EMA class prototypes of hypersphere embeddings, and their learning-rate
 * schedule (per-epoch cosine to lr·decay³ with a linear warm-up).
 */

/** OpenOOD's `optimizer` section of train_cider.yml / train_npos.yml (lr 0.5, wd 1e-4, warm-up, cosine). */
export const hypersphereOptimizerArgs = {
  lr: z.number().positive().default(0.5),
  momentum: z.number().min(0).max(1).default(0.9),
  weight_decay: z.number().min(0).default(1e-4),
  nesterov: z.boolean().default(true),
  warm: z.boolean().default(true).describe('linear warm-up from 0.001 over the first warm_epochs epochs (OpenOOD: on)'),
  warm_epochs: z.number().int().min(1).default(10).describe('epochs of warm-up (OpenOOD: 10, fixed)'),
  cosine: z.boolean().default(true).describe('per-epoch cosine to lr·lr_decay_rate³; off: step decay at lr_decay_epochs'),
  lr_decay_rate: z.number().positive().max(1).default(0.1),
  lr_decay_epochs: z.array(z.number().int().min(0)).default([50, 75, 90]),
  proto_m: z.number().min(0).max(1).default(0.95).describe('EMA momentum of the class prototypes (OpenOOD: 0.95)'),
  temp: z.number().positive().default(0.1).describe('temperature of both losses (OpenOOD: 0.1)'),
};
/** The shared part of the cider and npos args, as one schema (for callers of {@link hypersphereLearningRate}). */
export const hypersphereOptimizer = z.strictObject(hypersphereOptimizerArgs);
export type HypersphereOptimizerArgs = z.infer<typeof hypersphereOptimizer>;

const WARMUP_FROM = 0.001;

/**
 * The learning rate of training step `step` (0-based) as OpenOOD's `adjust_learning_rate` (per epoch,
 * 0-based epoch) and `warmup_learning_rate` (per step while epoch ≤ warm_epochs). OpenOOD passes the
 * 0-based epoch to a warm-up written for 1-based ones, so its first epoch's rates run from
 * 0.001 − (to − 0.001)/warm_epochs up to 0.001: negative. We hold epoch 0 at 0.001 (p clamped at 0)
 * and keep the rest of OpenOOD's ramp (reaching warmup_to at the end of epoch warm_epochs).
 */
export function hypersphereLearningRate(step: number, plan: TrainingPlan, args: HypersphereOptimizerArgs): number {
  const epochs = plan.epochs;
  const perEpoch = plan.stepsPerEpoch;
  const epoch = Math.floor(step / perEpoch);
  const batch = (step % perEpoch) + 1;
  const etaMin = args.lr * args.lr_decay_rate ** 3;
  const cosineAt = (e: number) => etaMin + ((args.lr - etaMin) * (1 + Math.cos((Math.PI * e) / epochs))) / 2;
  let lr: number;
  if (args.cosine) lr = cosineAt(epoch);
  else {
    const passed = args.lr_decay_epochs.filter((e) => epoch > e).length;
    lr = passed > 0 ? args.lr * args.lr_decay_rate ** passed : args.lr;
  }
  if (args.warm && epoch <= args.warm_epochs) {
    const to = args.cosine ? cosineAt(args.warm_epochs) : args.lr;
    const p = Math.max(0, (batch + (epoch - 1) * perEpoch) / (args.warm_epochs * perEpoch));
    lr = WARMUP_FROM + p * (to - WARMUP_FROM);
  }
  return lr;
}

/** x / max(‖x‖₂, 1e-12) per row (F.normalize(x, dim=1)). */
export function normalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1, true)), 1e-12)) as tf.Tensor2D);
}

/**
 * OpenOOD's prototype update: for each sample j in batch order, p[y_j] ← normalize(m·p[y_j] + (1−m)·f_j).
 * Rows of different classes are independent, so round r applies every class's r-th sample at once
 * (the same sequence per class as the per-sample loop). The result keeps the gradient to `features`,
 * as OpenOOD's in-place updates do: the dispersion loss trains the embeddings through it.
 */
export function emaPrototypes(prototypes: tf.Tensor2D, features: tf.Tensor2D, labels: Int32Array, momentum: number): tf.Tensor2D {
  const classes = prototypes.shape[0];
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((label, j) => {
    if (label < 0 || label >= classes) throw new UsageError(`prototype update: label ${label} outside 0..${classes - 1}`);
    byClass[label]!.push(j);
  });
  const rounds = Math.max(0, ...byClass.map((rows) => rows.length));
  return tf.tidy(() => {
    let current: tf.Tensor2D = tf.clone(prototypes);
    for (let r = 0; r < rounds; r++) {
      const index = Int32Array.from(byClass, (rows) => rows[r] ?? 0);
      const active = tf.tensor2d(
        Float32Array.from(byClass, (rows) => (r < rows.length ? 1 : 0)),
        [classes, 1],
      );
      const updated = normalizeRows(tf.add(tf.mul(current, momentum), tf.mul(tf.gather(features, index), 1 - momentum)) as tf.Tensor2D);
      current = tf.where(tf.cast(active, 'bool'), updated, current) as tf.Tensor2D;
    }
    return current;
  });
}

/**
 * Compactness (OpenOOD's CompLoss): −(T/T_base)·mean_n log softmax_c(f_n·p̂_c / T)[y_n], with p̂ the
 * normalised prototypes (T_base = 0.07, OpenOOD's default).
 */
export function compactnessLoss(
  features: tf.Tensor2D,
  prototypes: tf.Tensor2D,
  labels: tf.Tensor1D,
  temperature: number,
  baseTemperature = 0.07,
): tf.Scalar {
  return tf.tidy(() => {
    const logits = tf.div(tf.matMul(features, normalizeRows(prototypes), false, true), temperature) as tf.Tensor2D;
    const target = tf.oneHot(tf.cast(labels, 'int32'), prototypes.shape[0]);
    const positive = tf.sum(tf.mul(target, tf.logSoftmax(logits)), 1);
    return tf.mul(tf.mean(positive), -temperature / baseTemperature) as tf.Scalar;
  });
}

/**
 * Dispersion (OpenOOD's DisLoss/DispLoss): (T/T_base)·mean_i log( Σ_{j≠i} exp(p_i·p_j / T) / (C − 1) )
 * (T_base = 0.1). Needs at least two classes (OpenOOD's NaN filter only drops C = 1's 0/0).
 */
export function dispersionLoss(prototypes: tf.Tensor2D, temperature: number, baseTemperature = 0.1): tf.Scalar {
  const classes = prototypes.shape[0];
  if (classes < 2) throw new UsageError('the dispersion loss needs at least two classes');
  return tf.tidy(() => {
    const logits = tf.div(tf.matMul(prototypes, prototypes, false, true), temperature);
    const offDiagonal = tf.sub(1, tf.eye(classes));
    const negatives = tf.log(tf.div(tf.sum(tf.mul(offDiagonal, tf.exp(logits)), 1), classes - 1));
    return tf.mul(tf.mean(negatives), temperature / baseTemperature) as tf.Scalar;
  });
}

/**
 * The lifecycle CIDER and NPOS share: a projection network, EMA prototypes kept on the host
 * (checkpointed), their schedule. OpenOOD initialises the prototypes from one eval-mode pass over the
 * ID val loader before training; the trainer protocol hands a trainer no loader, so the prototypes
 * start as the normalised class means of the first batch's (detached) embeddings, a class absent from
 * it at zero (its first update then sets it to that sample's embedding).
 */
export abstract class HypersphereTrainer extends SgdTrainer {
  abstract override readonly name: string;
  protected prototypes?: Float32Array;
  private pendingPrototypes?: Float32Array;
  protected embeddingDim = 0;

  constructor(
    protected readonly sphere: HypersphereOptimizerArgs,
    rng: Rng,
  ) {
    super({ ...sphere, min_lr: 0 }, rng);
  }

  override get learningRate(): number {
    return this.plan ? hypersphereLearningRate(this.stepsDone, this.plan, this.sphere) : this.sphere.lr;
  }

  override init(network: Classifier, plan: TrainingPlan): void {
    if (!isProjectionNetwork(network)) {
      throw new UsageError(
        `trainer '${this.name}' trains a hypersphere projection network (network: {name: ${this.networkWrapper}, args: {backbone: ...}}), got '${network.name}'`,
      );
    }
    if (network.numClasses < 2) throw new UsageError(`trainer '${this.name}' needs at least two classes`);
    super.init(network, plan);
    this.embeddingDim = network.embeddingDim;
    this.prototypes = undefined;
  }

  abstract readonly networkWrapper: string;

  /** The prototypes before this step's update, initialised from `embeddings` on the first step. */
  private currentPrototypes(embeddings: tf.Tensor2D, labels: Int32Array): tf.Tensor2D {
    if (!this.prototypes) {
      const e = this.embeddingDim;
      const values = embeddings.dataSync();
      const sums = new Float64Array(this.numClasses * e);
      labels.forEach((label, j) => {
        for (let d = 0; d < e; d++) sums[label * e + d] += values[j * e + d]!;
      });
      const init = new Float32Array(this.numClasses * e);
      for (let c = 0; c < this.numClasses; c++) {
        let norm = 0;
        for (let d = 0; d < e; d++) norm += sums[c * e + d]! ** 2;
        const scale = 1 / Math.max(Math.sqrt(norm), 1e-12);
        for (let d = 0; d < e; d++) init[c * e + d] = sums[c * e + d]! * scale;
      }
      this.prototypes = init;
    }
    return tf.tensor2d(this.prototypes, [this.numClasses, this.embeddingDim]);
  }

  /**
   * Dispersion of the updated prototypes (with their gradient) and compactness against them detached,
   * as OpenOOD; records the updated prototypes, committed once the step is taken.
   */
  protected prototypeLosses(embeddings: tf.Tensor2D, batch: Batch): { dispersion: tf.Scalar; compactness: tf.Scalar } {
    const labels = Int32Array.from(batch.y.dataSync());
    return tf.tidy(() => {
      const updated = emaPrototypes(this.currentPrototypes(embeddings, labels), embeddings, labels, this.sphere.proto_m);
      const values = updated.dataSync() as Float32Array;
      this.pendingPrototypes = values.slice();
      const dispersion = dispersionLoss(updated, this.sphere.temp);
      const compactness = compactnessLoss(embeddings, tf.tensor2d(values, updated.shape), batch.y, this.sphere.temp);
      return { dispersion, compactness };
    });
  }

  override async step(batch: Batch, outliers?: Batch): Promise<StepResult> {
    const before = this.stepsDone;
    const result = await super.step(batch, outliers);
    if (this.stepsDone > before && this.pendingPrototypes) this.prototypes = this.pendingPrototypes;
    this.pendingPrototypes = undefined;
    return result;
  }

  protected projection(network: Classifier): ProjectionNetwork {
    return network as ProjectionNetwork;
  }

  protected override methodState(): { slots: Record<string, Float32Array>; extra: Record<string, unknown> } {
    return { slots: this.prototypes ? { [`${this.name}/prototypes`]: this.prototypes.slice() } : {}, extra: {} };
  }

  protected override setMethodState(slots: Record<string, Float32Array>, extra: Record<string, unknown>): void {
    const key = `${this.name}/prototypes`;
    const { [key]: prototypes, ...rest } = slots;
    if (prototypes && prototypes.length !== this.numClasses * this.embeddingDim) {
      throw new UsageError(
        `${this.name}: checkpointed prototypes hold ${prototypes.length} values, expected ${this.numClasses}×${this.embeddingDim}`,
      );
    }
    this.prototypes = prototypes?.slice();
    super.setMethodState(rest, extra);
  }
}
