import { tf } from '@oodkit/compute';
import {
  DataError,
  UsageError,
  type Batch,
  type BuildContext,
  type Classifier,
  type PostprocessorSetupData,
  type Rng,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor1D, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { toScoreResult } from '../math/softmax.js';

export const gramArgs = z.strictObject({
  powers: z
    .array(z.number().int().positive())
    .min(1)
    .default([1, 2, 3, 4, 5])
    .describe('orders p of the Gram matrices (G_p of the element-wise p-th power of a block)'),
});
export type GramArgs = z.infer<typeof gramArgs>;

/** Share of each class's train rows OpenOOD holds out to normalise the deviations of a layer. */
export const GRAM_HELD_OUT_SHARE = 0.1;
const EPS = 1e-6;

/**
 * OpenOOD's G_p of one block [N, H, W, C]: T = block^p viewed as [N, H·W, C], the row sums of the
 * channel Gram matrix TᵀT (Σ_c' Σ_s T_sc T_sc', computed as Σ_s T_sc·(Σ_c' T_sc') without forming C×C),
 * then sign(g)·|g|^(1/p). Powers are integers, so block^p is repeated multiplication (exact for
 * negative entries, where a float pow would give NaN).
 */
export function gramFeatures(block: Tensor4D, power: number): Tensor2D {
  return tf.tidy(() => {
    const [n, h, w, c] = block.shape;
    const flat = tf.reshape(block, [n, h * w, c]) as Tensor3D;
    let t: Tensor3D = flat;
    for (let k = 1; k < power; k++) t = tf.mul(t, flat) as Tensor3D;
    const g = tf.sum(tf.mul(t, tf.sum(t, 2, true)), 1) as Tensor2D;
    return power === 1 ? g : (tf.mul(tf.sign(g), tf.pow(tf.abs(g), 1 / power)) as Tensor2D);
  });
}

/**
 * The rows gram holds out of the min/max (a 0/1 flag per train row): ⌊0.1·L⌋ of each class's L rows,
 * drawn without replacement from `rng` (OpenOOD draws them with Python's unseeded `random.sample`).
 */
export function gramHeldOut(labels: Int32Array, rng: Rng): Uint8Array {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const rows = byClass.get(labels[i]!);
    if (rows) rows.push(i);
    else byClass.set(labels[i]!, [i]);
  }
  const held = new Uint8Array(labels.length);
  for (const rows of byClass.values()) {
    const take = Math.floor(GRAM_HELD_OUT_SHARE * rows.length);
    const order = rng.permutation(rows.length);
    for (let j = 0; j < take; j++) held[rows[order[j]!]!] = 1;
  }
  return held;
}

/** Per layer and power, the class-wise min and max of G_p over the kept train rows; per layer, the normaliser. */
export interface GramStatistics {
  readonly powers: readonly number[];
  readonly numClasses: number;
  /** Channel count of each layer's G_p. */
  readonly dims: readonly number[];
  /** [layer][power index] → [numClasses · dim] row-major. */
  readonly mins: readonly (readonly Float32Array[])[];
  readonly maxs: readonly (readonly Float32Array[])[];
  /** Mean over held-out rows of Σ_p delta (a layer's deviation scale). */
  readonly factors: readonly number[];
}

/** delta(min, max, x) of one row: Σ relu(min − x)/|min + 1e-6| + Σ relu(x − max)/|max + 1e-6|. */
function rowDelta(mins: Float32Array, maxs: Float32Array, offset: number, x: ArrayLike<number>, xo: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) {
    const v = x[xo + j]!;
    const lo = mins[offset + j]!;
    const hi = maxs[offset + j]!;
    if (lo > v) s += (lo - v) / Math.abs(lo + EPS);
    if (v > hi) s += (v - hi) / Math.abs(hi + EPS);
  }
  return s;
}

/**
 * Streams train rows into OpenOOD's `sample_estimator` statistics: kept rows update the class-wise
 * min/max of every G_p, held-out rows are stored (only those: ~10% of the split) to compute each
 * layer's normaliser once the min/max are final.
 */
export class GramAccumulator {
  private mins: Float32Array[][] = [];
  private maxs: Float32Array[][] = [];
  private dims: number[] = [];
  private readonly seen: Uint8Array;
  private readonly heldRows: { label: number; features: Float32Array[][] }[] = [];

  constructor(
    readonly powers: readonly number[],
    readonly numClasses: number,
  ) {
    this.seen = new Uint8Array(numClasses);
  }

  /** G_p of one batch: features[layer][power] is [n · dim_layer] row-major. */
  add(features: readonly (readonly Float32Array[])[], labels: Int32Array, held: Uint8Array): void {
    const n = labels.length;
    if (this.dims.length === 0) {
      this.dims = features.map((perPower) => perPower[0]!.length / Math.max(1, n));
      this.mins = this.dims.map((d) => this.powers.map(() => new Float32Array(this.numClasses * d).fill(Infinity)));
      this.maxs = this.dims.map((d) => this.powers.map(() => new Float32Array(this.numClasses * d).fill(-Infinity)));
    }
    for (let i = 0; i < n; i++) {
      const label = labels[i]!;
      if (!Number.isInteger(label) || label < 0 || label >= this.numClasses) {
        throw new DataError(`gram: train label ${label} is outside 0..${this.numClasses - 1}`);
      }
      if (held[i]) {
        this.heldRows.push({
          label,
          features: features.map((perPower, l) => perPower.map((f) => f.slice(i * this.dims[l]!, (i + 1) * this.dims[l]!))),
        });
        continue;
      }
      this.seen[label] = 1;
      for (let l = 0; l < this.dims.length; l++) {
        const d = this.dims[l]!;
        for (let p = 0; p < this.powers.length; p++) {
          const f = features[l]![p]!;
          const lo = this.mins[l]![p]!;
          const hi = this.maxs[l]![p]!;
          for (let j = 0; j < d; j++) {
            const v = f[i * d + j]!;
            if (v < lo[label * d + j]!) lo[label * d + j] = v;
            if (v > hi[label * d + j]!) hi[label * d + j] = v;
          }
        }
      }
    }
  }

  finish(): GramStatistics {
    const missing = [...this.seen].flatMap((s, c) => (s ? [] : [c]));
    if (missing.length > 0) {
      throw new DataError(`gram: the ID train split has no (kept) rows of class ${missing.join(', ')}; its min/max cannot be estimated`);
    }
    if (this.heldRows.length === 0) {
      throw new DataError(
        'gram: no train row was held out to normalise the deviations (10% of each class, rounded down): a class needs at least 10 train rows',
      );
    }
    const factors = this.dims.map((d, l) => {
      let total = 0;
      for (const row of this.heldRows) {
        for (let p = 0; p < this.powers.length; p++) {
          total += rowDelta(this.mins[l]![p]!, this.maxs[l]![p]!, row.label * d, row.features[l]![p]!, 0, d);
        }
      }
      return total / this.heldRows.length;
    });
    return { powers: this.powers, numClasses: this.numClasses, dims: this.dims, mins: this.mins, maxs: this.maxs, factors };
  }
}

/** Host copies of G_p for every block and power of a batch. */
export async function gramBatchFeatures(blocks: readonly Tensor4D[], powers: readonly number[]): Promise<Float32Array[][]> {
  const out: Float32Array[][] = [];
  for (const block of blocks) {
    const perPower: Float32Array[] = [];
    for (const p of powers) {
      const g = gramFeatures(block, p);
      try {
        perPower.push((await g.data()) as Float32Array);
      } finally {
        g.dispose();
      }
    }
    out.push(perPower);
  }
  return out;
}

/**
 * OpenOOD's `get_deviations`: pred = argmax softmax(ℓ), its max m; each sample's deviation
 * Σ_layers Σ_p delta(min, max of its predicted class, G_p)/factor_layer; conf = −deviation/m.
 * A layer whose normaliser is 0 (every held-out row inside the train ranges) is left unnormalised
 * (OpenOOD would divide by zero).
 */
export function gramScore(stats: GramStatistics, blocks: readonly Tensor4D[], logits: Tensor2D): { pred: Tensor1D; conf: Tensor1D } {
  return tf.tidy(() => {
    if (blocks.length !== stats.dims.length) {
      throw new DataError(`gram: the network gives ${blocks.length} blocks, the statistics were fitted on ${stats.dims.length}`);
    }
    const p = tf.softmax(logits, -1);
    const m = tf.max(p, 1);
    const pred = tf.argMax(p, 1) as Tensor1D;
    let deviation: tf.Tensor = tf.zerosLike(m);
    blocks.forEach((block, l) => {
      const d = stats.dims[l]!;
      const factor = stats.factors[l]! > 0 ? stats.factors[l]! : 1;
      stats.powers.forEach((power, k) => {
        const g = gramFeatures(block, power);
        if (g.shape[1] !== d) throw new DataError(`gram: block ${l} has ${g.shape[1]} channels, the statistics ${d}`);
        const lo = tf.gather(tf.tensor2d(stats.mins[l]![k]!, [stats.numClasses, d]), pred);
        const hi = tf.gather(tf.tensor2d(stats.maxs[l]![k]!, [stats.numClasses, d]), pred);
        const below = tf.div(tf.relu(tf.sub(lo, g)), tf.abs(tf.add(lo, EPS)));
        const above = tf.div(tf.relu(tf.sub(g, hi)), tf.abs(tf.add(hi, EPS)));
        deviation = tf.add(deviation, tf.div(tf.sum(tf.add(below, above), 1), factor));
      });
    });
    return { pred, conf: tf.div(tf.neg(deviation), m) as Tensor1D };
  });
}

async function collectLabels(stream: Iterable<Batch> | AsyncIterable<Batch>): Promise<Int32Array> {
  const parts: Int32Array[] = [];
  for await (const batch of stream) {
    try {
      parts.push(Int32Array.from(await batch.y.data()));
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  const out = new Int32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Gram matrices (Sastry & Oore, ICML 2020), as OpenOOD's `gram` postprocessor
 * (openood/postprocessors/gram_postprocessor.py, configs/postprocessors/gram.yml: powers 1–5, one grid
 * point, so no search here). Setup streams the ID train inputs twice — labels first (to hold out ⌊10%⌋
 * of each class, seeded), then `forwardBlocks` for the class-wise min/max of every G_p — and scoring
 * is `gramScore`. Difference, on purpose (docs/decisions.md): the layers are the network's blocks
 * (`forwardBlocks`: stem, stages 1–3 and pooled stage 4 on the ResNets) where OpenOOD hooks the output
 * of every Conv2d and ReLU module.
 */
export class GramPostprocessor extends BasePostprocessor<typeof gramArgs> {
  readonly name = 'gram';
  override readonly needsNetwork = true;
  override readonly networkUse = 'intermediate feature maps';
  private model?: ScoringModel;
  private stats?: GramStatistics;
  private readonly rng: Rng;

  constructor(schema: typeof gramArgs, args: GramArgs, ctx: BuildContext) {
    super(schema, args);
    this.rng = ctx.rng.derive('held-out');
  }

  protected override async fit(model: ScoringModel, _data: PostprocessorSetupData): Promise<void> {
    this.model = model;
    this.stats = undefined;
  }

  protected override async derive(): Promise<void> {
    const powers = this.args.powers;
    if (this.stats && this.stats.powers.join() === powers.join()) return;
    this.stats = await fitGram(this.model!, powers, this.rng.derive(powers.join(',')));
  }

  protected override releaseState(): void {
    this.model = undefined;
    this.stats = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const x = batch.inputs;
    if (!x) throw new UsageError('gram reads intermediate blocks: the score batch must carry `inputs`');
    const network = this.model!.network!;
    const { pred, conf } = tf.tidy(() => {
      const { logits, blocks } = network.forwardBlocks(x);
      return gramScore(this.stats!, blocks, logits);
    });
    return toScoreResult(pred, conf);
  }
}

/** Setup of gram on a network source (see GramPostprocessor). */
export async function fitGram(model: ScoringModel, powers: readonly number[], rng: Rng): Promise<GramStatistics> {
  const network: Classifier = model.network!;
  const stream = () => {
    const s = model.setupInputs?.('train');
    if (!s) throw new UsageError('gram fits on the ID train inputs, but the source offers none (no train split, or a feature folder)');
    return s;
  };
  const labels = await collectLabels(stream());
  const held = gramHeldOut(labels, rng);
  const acc = new GramAccumulator(powers, model.finalLayer.numClasses);
  let offset = 0;
  for await (const batch of stream()) {
    try {
      const n = batch.x.shape[0];
      if (offset + n > labels.length) throw new DataError('gram: the train loader yielded more rows on its second pass than on its first');
      const blocks = tf.tidy(() => network.forwardBlocks(batch.x).blocks);
      try {
        const features = await gramBatchFeatures(blocks, powers);
        acc.add(features, labels.subarray(offset, offset + n), held.subarray(offset, offset + n));
      } finally {
        for (const b of blocks) b.dispose();
      }
      offset += n;
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  if (offset !== labels.length)
    throw new DataError(`gram: the train loader yielded ${offset} rows on its second pass, ${labels.length} on its first`);
  return acc.finish();
}

export const gramDefinition = definePostprocessor(
  {
    name: 'gram',
    description: "Gram matrices: class-wise min/max deviations of the blocks' G_p from ID train, over max softmax",
    args: gramArgs,
  },
  GramPostprocessor,
);
