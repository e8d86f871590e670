import { tf } from '@oodkit/compute';
import { UsageError, defineComponent, type Batch, type Classifier, type Rng, type TrainingPlan } from '@oodkit/core';
import { z } from 'zod';
import { crossEntropy } from '../losses.js';
import { cholesky } from '../math/cholesky.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const vosArgs = z.strictObject({
  ...optimizerArgs,
  /** Weight of the energy-based uncertainty loss. */
  loss_weight: z.number().min(0).default(0.1),
  /** Features kept per class for the class-conditional Gaussians. */
  sample_number: z.number().int().min(2).default(1000),
  /** Samples drawn per class; the `select` least likely become virtual outliers. */
  sample_from: z.number().int().min(1).default(10000),
  select: z.number().int().min(1).default(1),
  /** First epoch (0-based) with the uncertainty loss; before it the queue only fills. */
  start_epoch: z.number().int().min(0).default(0),
});
export type VosArgs = z.infer<typeof vosArgs>;

/** Class means [C, D] and the shared covariance of class-centred features + 1e-4·I, from a [C, S, D] queue. */
export function classGaussians(queue: tf.Tensor3D): { means: tf.Tensor2D; covariance: tf.Tensor2D } {
  return tf.tidy(() => {
    const [c, s, d] = queue.shape;
    const means = tf.mean(queue, 1) as tf.Tensor2D;
    const centred = tf.reshape(tf.sub(queue, tf.expandDims(means, 1)), [c * s, d]) as tf.Tensor2D;
    const covariance = tf.add(tf.div(tf.matMul(centred, centred, true, false), c * s), tf.mul(tf.eye(d), 1e-4)) as tf.Tensor2D;
    return { means, covariance };
  });
}

/**
 * Virtual outliers: for each class draw x = μ_c + L·ε (L = chol Σ, ε from `eps` [C, sample_from, D])
 * and keep the `select` samples of lowest density. Under one Gaussian, density falls with ‖ε‖², so
 * the selection ranks ‖ε‖² and transforms only the winners. Returns [C·select, D].
 */
export function virtualOutliers(means: tf.Tensor2D, choleskyL: tf.Tensor2D, eps: tf.Tensor3D, select: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [c, , d] = eps.shape;
    const { indices } = tf.topk(tf.sum(tf.square(eps), 2), select); // [C, select]
    const chosen = tf.gatherND(eps, tf.stack([tf.tile(tf.expandDims(tf.range(0, c, 1, 'int32'), 1), [1, select]), indices], 2)); // [C, select, D]
    const shifted = tf.add(
      tf.reshape(tf.matMul(tf.reshape(chosen, [c * select, d]), choleskyL, false, true), [c, select, d]),
      tf.expandDims(means, 1),
    );
    return tf.reshape(shifted, [c * select, d]) as tf.Tensor2D;
  });
}

/** VOS's energy with learnable class weights: m + log Σ_c relu(w_c)·exp(ℓ_c − m), m = max_c ℓ_c. */
export function weightedEnergy(logits: tf.Tensor2D, weight: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const m = tf.max(logits, 1, true);
    return tf.squeeze(tf.add(m, tf.log(tf.sum(tf.mul(tf.relu(weight), tf.exp(tf.sub(logits, m))), 1, true))), [1]) as tf.Tensor1D;
  });
}

/**
 * VOS (virtual outlier synthesis): per-class FIFO queues of penultimate features; once full, class
 * Gaussians with a shared covariance generate low-density virtual outliers in feature space; a
 * logistic regression on the (weighted) energy separates ID features (label 1) from virtual outliers
 * (label 0); loss = CE + loss_weight·that CE. Follows the VOS paper's differentiable energy; see
 * docs/decisions.md for where OpenOOD's copy differs.
 */
export class VosTrainer extends SgdTrainer {
  readonly name = 'vos';
  private queue = new Float32Array(0);
  private counts = new Int32Array(0);
  private heads = new Int32Array(0);
  private featureDim = 0;
  private weightEnergy?: tf.Variable;
  private lrWeight?: tf.Variable;
  private lrBias?: tf.Variable;
  private readonly initRng: Rng;

  constructor(
    private readonly args: VosArgs,
    rng: Rng,
  ) {
    super(args, rng);
    this.initRng = rng.derive('init');
  }

  override init(network: Classifier, plan: TrainingPlan): void {
    super.init(network, plan);
    const c = network.numClasses;
    this.featureDim = network.featureDim;
    this.queue = new Float32Array(c * this.args.sample_number * this.featureDim);
    this.counts = new Int32Array(c);
    this.heads = new Int32Array(c);
    tf.dispose([this.weightEnergy!, this.lrWeight!, this.lrBias!].filter(Boolean));
    // weight_energy: uniform_(0, 1) as the reference; logistic_regression Linear(1, 2): PyTorch default U(±1).
    this.weightEnergy = tf.variable(tf.randomUniform([c], 0, 1, 'float32', this.initRng.derive('weight_energy').nextSeed()));
    this.lrWeight = tf.variable(tf.randomUniform([2, 1], -1, 1, 'float32', this.initRng.derive('logistic_regression.weight').nextSeed()));
    this.lrBias = tf.variable(tf.randomUniform([2], -1, 1, 'float32', this.initRng.derive('logistic_regression.bias').nextSeed()));
  }

  protected override ownParameters(): ReadonlyMap<string, tf.Variable> {
    if (!this.weightEnergy) return new Map();
    return new Map([
      ['weight_energy.weight', this.weightEnergy],
      ['logistic_regression.weight', this.lrWeight!],
      ['logistic_regression.bias', this.lrBias!],
    ]);
  }

  private get full(): boolean {
    return this.counts.every((n) => n === this.args.sample_number);
  }

  private enqueue(features: Float32Array, labels: ArrayLike<number>, replaceOldest: boolean): void {
    const { sample_number: s } = this.args;
    const d = this.featureDim;
    for (let i = 0; i < labels.length; i++) {
      const c = labels[i];
      if (c < 0 || c >= this.counts.length) throw new UsageError(`vos: label ${c} outside [0, ${this.counts.length})`);
      let slot: number;
      if (replaceOldest) {
        slot = this.heads[c];
        this.heads[c] = (slot + 1) % s;
      } else {
        if (this.counts[c] >= s) continue;
        slot = this.counts[c]++;
      }
      this.queue.set(features.subarray(i * d, (i + 1) * d), (c * s + slot) * d);
    }
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    const { logits, features } = network.forwardFeatures(batch.x, true);
    const ce = crossEntropy(logits, batch.y);
    const host = features.dataSync() as Float32Array;
    const labels = batch.y.dataSync();
    if (!this.full) {
      this.enqueue(host, labels, false);
      return ce;
    }
    this.enqueue(host, labels, true);
    const epoch = Math.floor(this.stepsDone / this.plan!.stepsPerEpoch);
    if (epoch < this.args.start_epoch) return ce;
    const c = this.counts.length;
    const d = this.featureDim;
    const { means, covariance } = classGaussians(tf.tensor3d(this.queue, [c, this.args.sample_number, d]));
    const l = tf.tensor2d(Float32Array.from(cholesky(covariance.dataSync(), d)), [d, d]);
    const eps = tf.randomNormal([c, this.args.sample_from, d], 0, 1, 'float32', this.rng.nextSeed()) as tf.Tensor3D;
    const outliers = virtualOutliers(means, l, eps, this.args.select);
    const energyId = weightedEnergy(logits, this.weightEnergy as tf.Tensor1D);
    const energyOod = weightedEnergy(network.head(outliers), this.weightEnergy as tf.Tensor1D);
    const input = tf.reshape(tf.concat([energyId, energyOod], 0), [-1, 1]) as tf.Tensor2D;
    const lrLogits = tf.add(tf.matMul(input, this.lrWeight as tf.Tensor2D, false, true), this.lrBias!) as tf.Tensor2D;
    const lrLabels = tf.concat([tf.ones([energyId.shape[0]], 'int32'), tf.zeros([energyOod.shape[0]], 'int32')]) as tf.Tensor1D;
    return tf.add(ce, tf.mul(crossEntropy(lrLogits, lrLabels), this.args.loss_weight));
  }

  protected override methodState(): { slots: Record<string, Float32Array>; extra: Record<string, unknown> } {
    return { slots: { 'vos/queue': this.queue.slice() }, extra: { vosCounts: [...this.counts], vosHeads: [...this.heads] } };
  }

  protected override setMethodState(slots: Record<string, Float32Array>, extra: Record<string, unknown>): void {
    const queue = slots['vos/queue'];
    const counts = extra['vosCounts'] as number[] | undefined;
    const heads = extra['vosHeads'] as number[] | undefined;
    if (!queue || queue.length !== this.queue.length || !counts || !heads || counts.length !== this.counts.length) {
      throw new UsageError('vos: trainer state lacks a feature queue matching this network (vos/queue, vosCounts, vosHeads)');
    }
    this.queue = queue.slice();
    this.counts = Int32Array.from(counts);
    this.heads = Int32Array.from(heads);
  }
}

export const vos = defineComponent({
  kind: 'trainer',
  name: 'vos',
  description: 'VOS: virtual outliers from class-conditional Gaussians in feature space, energy uncertainty loss (weight 0.1)',
  args: vosArgs,
  create: (args, ctx) => new VosTrainer(args, ctx.rng),
});
