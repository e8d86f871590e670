import { tf } from '@oodkit/compute';
import { defineComponent, UsageError, type Batch, type Classifier, type Rng, type TrainingPlan } from '@oodkit/core';
import { isBoundaryNetwork, type BoundaryNetwork } from '@oodkit/networks';
import { z } from 'zod';
import { HypersphereTrainer, hypersphereOptimizerArgs, normalizeRows } from './hypersphere.js';

export const nposTrainerArgs = z.strictObject({
  ...hypersphereOptimizerArgs,
  sample_number: z.number().int().positive().default(1000).describe('per-class queue of penultimate features (OpenOOD: 1000)'),
  sample_from: z.number().int().positive().default(600).describe('Gaussian draws around each boundary point (OpenOOD: 600)'),
  start_epoch_KNN: z.number().int().min(1).default(40).describe('1-based epoch from which outliers are synthesised (OpenOOD: 40)'),
  K: z.number().int().positive().default(300).describe('rank of the neighbour whose distance measures density (OpenOOD: 300)'),
  select: z
    .number()
    .int()
    .positive()
    .default(200)
    .describe('ID points with the largest K-th distance kept as boundary candidates (OpenOOD: 200)'),
  pick_nums: z.number().int().positive().default(2).describe('boundary points drawn from the candidates per class (OpenOOD: 2)'),
  cov_mat: z.number().positive().default(0.1).describe('scale of the Gaussian noise added to a boundary point (OpenOOD: 0.1)'),
  ID_points_num: z
    .number()
    .int()
    .min(2)
    .default(200)
    .describe('synthesised points kept per boundary point, the farthest from the ID queue (OpenOOD: 200)'),
  w_disp: z.number().min(0).default(0.5),
  w_comp: z.number().min(0).default(1),
  loss_weight: z.number().min(0).default(0.1).describe('weight of the ID-vs-outlier BCE of the mlp head (OpenOOD: 0.1)'),
});
export type NposTrainerArgs = z.infer<typeof nposTrainerArgs>;

/** Squared L2 distance from each row of `queries` to its K-th nearest row of `bank` (faiss IndexFlatL2: squared). */
export function kthSquaredDistance(queries: tf.Tensor2D, bank: tf.Tensor2D, k: number): tf.Tensor1D {
  return tf.tidy(() => {
    const qq = tf.sum(tf.square(queries), 1, true);
    const bb = tf.sum(tf.square(bank), 1);
    const d2 = tf.add(tf.sub(qq, tf.mul(tf.matMul(queries, bank, false, true), 2)), bb);
    const { values } = tf.topk(tf.neg(d2), k);
    return tf.neg(tf.reshape(tf.slice(values, [0, k - 1], [queries.shape[0], 1]), [-1])) as tf.Tensor1D;
  });
}

/** What `synthesizeOutliers` needs beyond the queue: the Gaussian draws and the random pick. */
export interface SynthesisOptions {
  readonly K: number;
  readonly select: number;
  readonly pickNums: number;
  readonly covMat: number;
  readonly idPointsNum: number;
  /** [L, D] standard-normal draws, shared by every class of the step (OpenOOD's `negative_samples`). */
  readonly gaussian: tf.Tensor2D;
  /** Positions in 0..select−1 of the boundary candidates used (OpenOOD's np.random.choice, without replacement). */
  readonly picks: readonly number[];
}

/**
 * OpenOOD's `generate_outliers` for one class queue `id` [S, D]: the `select` queue points with the
 * largest K-th neighbour distance on the normalised queue are boundary candidates; for each picked
 * candidate x, targets x + cov_mat·g over the L Gaussian draws; keep, per candidate column, the
 * ID_points_num targets with the largest K-th distance. OpenOOD views the [pick·L] distances as
 * [L, pick] row-major (`k_th.view(length, -1)`) but indexes the targets as column-major blocks
 * (`i·L + row`); that pairing is reproduced. Returns [ID_points_num·pick, D] points in z space.
 */
export function synthesizeOutliers(id: tf.Tensor2D, options: SynthesisOptions): tf.Tensor2D {
  const [s] = id.shape;
  const { K, select, pickNums, covMat, idPointsNum, gaussian, picks } = options;
  const length = gaussian.shape[0];
  if (K > s) throw new UsageError(`npos: K (${K}) exceeds the queue of ${s} features per class (sample_number)`);
  if (select > s) throw new UsageError(`npos: select (${select}) exceeds the queue of ${s} features per class`);
  if (idPointsNum > length) throw new UsageError(`npos: ID_points_num (${idPointsNum}) exceeds sample_from (${length})`);
  return tf.tidy(() => {
    const bank = normalizeRows(id);
    const boundary = tf.topk(kthSquaredDistance(bank, bank, K), select).indices.dataSync();
    const chosen = picks.map((p) => boundary[p]!);
    const centres = tf.gather(id, Int32Array.from(chosen.flatMap((i) => new Array<number>(length).fill(i))));
    const targets = tf.add(tf.mul(tf.tile(gaussian, [pickNums, 1]), covMat), centres) as tf.Tensor2D;
    const kth = kthSquaredDistance(normalizeRows(targets), bank, K);
    const columns = tf.reshape(kth, [length, pickNums]);
    const top = tf.topk(tf.transpose(columns), idPointsNum).indices.dataSync(); // [pick, ID_points_num]
    const rows = Int32Array.from(top, (row, flat) => Math.floor(flat / idPointsNum) * length + row);
    return tf.gather(targets, rows) as tf.Tensor2D;
  });
}

/** Mean binary cross-entropy of logits (BCEWithLogitsLoss). */
export function bceWithLogits(logits: tf.Tensor1D, targets: tf.Tensor1D): tf.Scalar {
  return tf.tidy(
    () => tf.mean(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))))) as tf.Scalar,
  );
}

/**
 * NPOS (Tao et al., ICLR 2023) as OpenOOD's NPOSTrainer: CIDER's losses on the projection
 * (w_disp·dispersion + w_comp·compactness) plus loss_weight·BCE of the network's mlp on z, ID features
 * (label 1) against outliers synthesised at the boundary of per-class queues of detached z
 * ({@link synthesizeOutliers}) from epoch start_epoch_KNN on. The queues fill first (no synthesis in
 * that phase), then run first-in-first-out.
 * Differences (docs/decisions.md): OpenOOD re-zeroes the queues at each epoch start while keeping its
 * fill counters, so every epoch's first steps search zero rows (NaN after normalising); the queues
 * persist here. OpenOOD's `mlp_decay_rate` group lr is overwritten by its per-epoch schedule, so the mlp
 * trains at lr, as here. Queue order is a ring (the KNN searches see a set, so order does not matter).
 */
export class NposTrainer extends HypersphereTrainer {
  readonly name = 'npos';
  readonly networkWrapper = 'npos_net';
  private queue = new Float32Array(0);
  private counts = new Int32Array(0);
  private heads = new Int32Array(0);
  private featureDim = 0;
  /** Outliers synthesised at the last step (for inspection), count only. */
  lastOutlierCount = 0;

  constructor(
    private readonly args: NposTrainerArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  override init(network: Classifier, plan: TrainingPlan): void {
    if (!isBoundaryNetwork(network)) {
      throw new UsageError(
        `trainer 'npos' trains a projection network with a boundary mlp (network: {name: npos_net, args: {backbone: ...}}), got '${network.name}'`,
      );
    }
    super.init(network, plan);
    this.featureDim = network.featureDim;
    this.queue = new Float32Array(this.numClasses * this.args.sample_number * this.featureDim);
    this.counts = new Int32Array(this.numClasses);
    this.heads = new Int32Array(this.numClasses);
  }

  private get queuesFull(): boolean {
    return this.counts.every((c) => c === this.args.sample_number);
  }

  /** OpenOOD's queue update for one batch of detached z; the fill phase ends only at a step start. */
  private enqueue(features: Float32Array, labels: Int32Array, full: boolean): void {
    const d = this.featureDim;
    const s = this.args.sample_number;
    labels.forEach((label, j) => {
      let slot: number;
      if (full) {
        slot = this.heads[label]!;
        this.heads[label] = (slot + 1) % s;
      } else {
        if (this.counts[label]! >= s) return;
        slot = this.counts[label]!;
        this.counts[label] = slot + 1;
      }
      this.queue.set(features.subarray(j * d, (j + 1) * d), (label * s + slot) * d);
    });
  }

  private synthesize(): tf.Tensor2D {
    const { sample_from, K, select, pick_nums, cov_mat, ID_points_num, sample_number } = this.args;
    if (pick_nums > select) throw new UsageError(`npos: pick_nums (${pick_nums}) exceeds select (${select})`);
    const d = this.featureDim;
    const gaussianValues = Float32Array.from({ length: sample_from * d }, () => this.rng.normal());
    return tf.tidy(() => {
      const gaussian = tf.tensor2d(gaussianValues, [sample_from, d]);
      const parts: tf.Tensor2D[] = [];
      for (let c = 0; c < this.numClasses; c++) {
        const id = tf.tensor2d(this.queue.subarray(c * sample_number * d, (c + 1) * sample_number * d), [sample_number, d]);
        const order = this.rng.permutation(select);
        const picks = Array.from(order.subarray(0, pick_nums));
        parts.push(
          synthesizeOutliers(id, { K, select, pickNums: pick_nums, covMat: cov_mat, idPointsNum: ID_points_num, gaussian, picks }),
        );
      }
      return tf.concat(parts) as tf.Tensor2D;
    });
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    const net = network as BoundaryNetwork;
    const epoch = Math.floor(this.stepsDone / this.plan!.stepsPerEpoch) + 1;
    const full = this.queuesFull;
    return tf.tidy(() => {
      const { features, embedding } = net.forwardProjection(batch.x, true);
      const labels = Int32Array.from(batch.y.dataSync());
      this.enqueue(features.dataSync() as Float32Array, labels, full);
      let boundary: tf.Scalar = tf.scalar(0);
      this.lastOutlierCount = 0;
      if (full && epoch >= this.args.start_epoch_KNN) {
        const outliers = this.synthesize();
        this.lastOutlierCount = outliers.shape[0];
        const logits = tf.concat([
          tf.reshape(net.boundaryLogits(features), [-1]),
          tf.reshape(net.boundaryLogits(outliers), [-1]),
        ]) as tf.Tensor1D;
        const targets = tf.concat([tf.ones([features.shape[0]]), tf.zeros([outliers.shape[0]])]) as tf.Tensor1D;
        boundary = bceWithLogits(logits, targets);
      }
      const { dispersion, compactness } = this.prototypeLosses(embedding, batch);
      const hypersphere = tf.add(tf.mul(dispersion, this.args.w_disp), tf.mul(compactness, this.args.w_comp));
      return tf.add(tf.mul(boundary, this.args.loss_weight), hypersphere) as tf.Scalar;
    });
  }

  protected override methodState(): { slots: Record<string, Float32Array>; extra: Record<string, unknown> } {
    const base = super.methodState();
    return {
      slots: { ...base.slots, 'npos/queue': this.queue.slice() },
      extra: { ...base.extra, nposCounts: [...this.counts], nposHeads: [...this.heads] },
    };
  }

  protected override setMethodState(slots: Record<string, Float32Array>, extra: Record<string, unknown>): void {
    const { 'npos/queue': queue, ...rest } = slots;
    const { nposCounts, nposHeads, ...others } = extra as { nposCounts?: number[]; nposHeads?: number[] };
    if (!queue || queue.length !== this.queue.length || !nposCounts || !nposHeads || nposCounts.length !== this.counts.length) {
      throw new UsageError('npos: trainer state lacks feature queues matching this network (npos/queue, nposCounts, nposHeads)');
    }
    this.queue = queue.slice();
    this.counts = Int32Array.from(nposCounts);
    this.heads = Int32Array.from(nposHeads);
    super.setMethodState(rest, others);
  }
}

export const npos = defineComponent({
  kind: 'trainer',
  name: 'npos',
  description: 'NPOS: CIDER losses + BCE of ID z against outliers synthesised at the boundary of per-class feature queues; needs npos_net',
  args: nposTrainerArgs,
  create: (args, ctx) => new NposTrainer(args, ctx.rng),
});
