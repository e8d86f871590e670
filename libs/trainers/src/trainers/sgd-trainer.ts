import { tf } from '@oodkit/compute';
import {
  Rng,
  UsageError,
  type Batch,
  type Classifier,
  type RngState,
  type StepResult,
  type Trainer,
  type TrainerState,
  type TrainingPlan,
} from '@oodkit/core';
import { z } from 'zod';
import { cosineLearningRate } from '../optim/schedule.js';
import { Sgd, type ParameterGroup } from '../optim/sgd.js';

/** Optimiser arguments every trainer shares (OpenOOD's `optimizer` section, defaults as its configs). */
export const optimizerArgs = {
  lr: z.number().positive().default(0.1),
  momentum: z.number().min(0).max(1).default(0.9),
  weight_decay: z.number().min(0).default(5e-4),
  nesterov: z.boolean().default(true),
  /** The cosine schedule's floor, reached at the last step (OpenOOD: 1e-6). */
  min_lr: z.number().min(0).default(1e-6),
};
export const baseTrainerArgs = z.strictObject(optimizerArgs);
export type OptimizerArgs = z.infer<typeof baseTrainerArgs>;

const MOMENTUM = 'momentum/';
const PARAM = 'param/';

/**
 * The OpenOOD training step: loss → gradients of every trainable variable → PyTorch SGD (Nesterov,
 * coupled weight decay) at the cosine learning rate of this step. Subclasses define the loss.
 */
export abstract class SgdTrainer implements Trainer {
  abstract readonly name: string;
  readonly needsOutliers: boolean = false;
  protected net?: Classifier;
  protected plan?: TrainingPlan;
  protected numClasses = 0;
  private optimizer?: Sgd;
  private stepCount = 0;
  /** Stream for the method's own random draws (mixing coefficients, permutations, boxes, samples). */
  protected rng: Rng;

  constructor(
    protected readonly optim: OptimizerArgs,
    rng: Rng,
  ) {
    this.rng = rng.derive('draws');
  }

  /** The method's loss for one step; runs inside the gradient tape. */
  protected abstract loss(network: Classifier, batch: Batch, outliers: Batch | undefined): tf.Scalar;

  /** Parameters the trainer itself owns and optimises (VOS), by stable name. */
  protected ownParameters(): ReadonlyMap<string, tf.Variable> {
    return new Map();
  }

  /** A parameter's own learning rate and weight decay when they differ from the trainer's (G-ODIN's h head). */
  protected parameterGroup(_name: string, _lr: number): ParameterGroup | undefined {
    return undefined;
  }

  /** Host-side state of the method beyond optimiser and RNG (VOS's feature queue). */
  protected methodState(): { slots: Record<string, Float32Array>; extra: Record<string, unknown> } {
    return { slots: {}, extra: {} };
  }

  protected setMethodState(slots: Record<string, Float32Array>, _extra: Record<string, unknown>): void {
    const unknown = Object.keys(slots);
    if (unknown.length > 0) throw new UsageError(`trainer '${this.name}': unexpected state slots ${unknown.join(', ')}`);
  }

  init(network: Classifier, plan: TrainingPlan): void {
    if (!(plan.epochs > 0 && plan.stepsPerEpoch > 0)) {
      throw new UsageError(`trainer '${this.name}': training plan needs epochs > 0 and stepsPerEpoch > 0, got ${JSON.stringify(plan)}`);
    }
    this.net = network;
    this.plan = plan;
    this.numClasses = network.numClasses;
    this.optimizer?.dispose();
    this.optimizer = new Sgd({
      momentum: this.optim.momentum,
      weightDecay: this.optim.weight_decay,
      nesterov: this.optim.nesterov,
      dampening: 0,
    });
    this.stepCount = 0;
  }

  get totalSteps(): number {
    return this.plan ? this.plan.epochs * this.plan.stepsPerEpoch : 0;
  }

  /** The learning rate the next step will use. */
  get learningRate(): number {
    return cosineLearningRate(this.stepCount, this.totalSteps, this.optim.lr, this.optim.min_lr);
  }

  get stepsDone(): number {
    return this.stepCount;
  }

  /** Network parameters under their stable names plus the trainer's own. */
  private parameters(): Map<string, tf.Variable> {
    const trainable = new Set(this.net!.trainableVariables());
    const out = new Map<string, tf.Variable>();
    for (const [name, variable] of this.net!.namedVariables()) if (trainable.has(variable)) out.set(name, variable);
    for (const [name, variable] of this.ownParameters()) out.set(`${this.name}.${name}`, variable);
    return out;
  }

  /**
   * One optimiser step. A non-finite loss is returned without touching weights or the step counter,
   * so the caller can stop and report the step.
   */
  async step(batch: Batch, outliers?: Batch): Promise<StepResult> {
    const network = this.net;
    if (!network || !this.optimizer) throw new UsageError(`trainer '${this.name}': call init(network, plan) before step()`);
    if (this.needsOutliers && !outliers) {
      throw new UsageError(`trainer '${this.name}' needs an outlier batch at every step (configure the outlier dataset)`);
    }
    const params = this.parameters();
    const list = [...params.values()];
    const { value, grads } = tf.variableGrads(() => this.loss(network, batch, outliers), list);
    const loss = (await value.data())[0];
    value.dispose();
    if (Number.isFinite(loss)) {
      const byName = new Map<string, tf.Tensor>();
      for (const [name, variable] of params) {
        const g = grads[variable.name];
        if (g) byName.set(name, g);
      }
      const lr = this.learningRate;
      this.optimizer.apply(params, byName, lr, (name) => this.parameterGroup(name, lr));
      this.stepCount++;
    }
    tf.dispose(Object.values(grads));
    return { loss };
  }

  getState(): TrainerState {
    if (!this.optimizer) throw new UsageError(`trainer '${this.name}': getState() before init()`);
    const slots: Record<string, Float32Array> = {};
    for (const [name, values] of Object.entries(this.optimizer.getSlots())) slots[MOMENTUM + name] = values;
    for (const [name, variable] of this.ownParameters()) slots[PARAM + name] = (variable.dataSync() as Float32Array).slice();
    const method = this.methodState();
    Object.assign(slots, method.slots);
    return { step: this.stepCount, slots, extra: { rng: this.rng.getState(), ...method.extra } };
  }

  setState(state: TrainerState): void {
    if (!this.optimizer) throw new UsageError(`trainer '${this.name}': setState() before init()`);
    const momentum: Record<string, Float32Array> = {};
    const methodSlots: Record<string, Float32Array> = {};
    const own = this.ownParameters();
    for (const [key, values] of Object.entries(state.slots)) {
      if (key.startsWith(MOMENTUM)) momentum[key.slice(MOMENTUM.length)] = values;
      else if (key.startsWith(PARAM)) {
        const variable = own.get(key.slice(PARAM.length));
        if (!variable || variable.size !== values.length) {
          throw new UsageError(`trainer state: '${key}' does not match a parameter of trainer '${this.name}'`);
        }
        variable.assign(tf.tensor(values, variable.shape));
      } else methodSlots[key] = values;
    }
    this.optimizer.setSlots(momentum, this.parameters());
    this.stepCount = state.step;
    const { rng, ...extra } = state.extra ?? {};
    if (rng) this.rng = Rng.fromState(rng as RngState);
    this.setMethodState(methodSlots, extra);
  }
}
