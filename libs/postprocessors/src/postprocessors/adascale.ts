import { tf } from '@oodkit/compute';
import {
  DataError,
  UsageError,
  type BuildContext,
  type Classifier,
  type PostprocessorSetupData,
  type Rng,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { roundHalfEven } from '../math/percentile.js';
import { logSumExp, scoreLogits } from '../math/softmax.js';
import { topKMask } from './ash.js';

const percentileRange = z
  .tuple([z.number().gt(0).lt(100), z.number().gt(0).lt(100)])
  .refine(([lo, hi]) => lo <= hi, { message: 'expected [min, max] with min ≤ max' });

export const adascaleArgs = z.strictObject({
  percentile: percentileRange.default([75, 85]).describe('[min, max] pruning percentile; a sample gets min + (1 − ECDF(Q′))·(max − min)'),
  k1: z.number().min(0).max(100).default(5).describe('% of z (its largest entries) whose perturbed activations form the correction term'),
  k2: z.number().min(0).max(100).default(1).describe('% of z (its largest entries) whose shift under perturbation is summed'),
  lmbda: z.number().min(0).default(10).describe('weight λ of the shift term in Q′'),
  o: z.number().min(0).max(1).default(0.05).describe('share of input elements perturbed (those with the smallest |gradient|)'),
  num_samples: z.number().int().positive().default(5000).describe('ID val rows (random subset) the ECDF of Q′ is built from'),
});
export type AdascaleArgs = z.infer<typeof adascaleArgs>;

/** OpenOOD's sweep (configs/postprocessors/adascale_{a,l}.yml): every [min, max] pair of 60–99, the rest fixed. */
const PERCENTILE_SWEEP: [number, number][] = (() => {
  const ends = [60, 65, 70, 75, 80, 85, 90, 95, 99];
  return ends.flatMap((lo, i) => ends.slice(i + 1).map((hi): [number, number] => [lo, hi]));
})();

/**
 * The input AdaScale perturbs and z before/after: g = ∂(Σ_i ℓ_i[argmax ℓ_i])/∂x; the ⌊o·H·W·C⌋ elements
 * with the smallest |g| move by 0.5·sign(g) (ties go to the lower NHWC index; OpenOOD's torch.topk order
 * is unspecified there). Returns z, z of the perturbed input and |z − z̃|.
 */
export function adascaleFeatures(network: Classifier, x: Tensor4D, o: number): { z: Tensor2D; perturbed: Tensor2D; shift: Tensor2D } {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    // Σ max ℓ: its gradient is the gradient of each sample's argmax logit (the label is not differentiated)
    const grad = tf.grad((input: tf.Tensor) => tf.sum(tf.max(network.forward(input as Tensor4D, false), 1)))(x) as Tensor4D;
    const count = Math.floor(h * w * c * o);
    const flat = tf.reshape(grad, [n, h * w * c]) as Tensor2D;
    const mask = tf.reshape(topKMask(tf.neg(tf.abs(flat)) as Tensor2D, count), x.shape);
    const moved = tf.add(x, tf.mul(tf.mul(tf.sign(grad), mask), 0.5)) as Tensor4D;
    const z = network.forwardFeatures(x, false).features;
    const perturbed = network.forwardFeatures(moved, false).features;
    return { z, perturbed, shift: tf.abs(tf.sub(z, perturbed)) as Tensor2D };
  });
}

/** Row indices of the k largest entries of row i of z (ties: lower index first, as tf.topk). */
function topIndices(z: Float32Array, offset: number, d: number, k: number): number[] {
  const idx = Array.from({ length: d }, (_, j) => j);
  idx.sort((a, b) => z[offset + b]! - z[offset + a]! || a - b);
  return idx.slice(0, k);
}

/**
 * Q′ per row: Σ relu(z̃) over the ⌊d·k1/100⌋ largest entries of z (the correction term) plus λ·Σ|z − z̃|
 * over the ⌊d·k2/100⌋ largest — OpenOOD's `topk_norm`.
 */
export function adascaleQ(
  z: Float32Array,
  perturbed: Float32Array,
  shift: Float32Array,
  d: number,
  k1: number,
  k2: number,
  lmbda: number,
): Float64Array {
  const n = z.length / d;
  const n1 = Math.floor((d * k1) / 100);
  const n2 = Math.floor((d * k2) / 100);
  const q = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const top = topIndices(z, i * d, d, Math.max(n1, n2));
    let a = 0;
    for (let j = 0; j < n1; j++) a += Math.max(0, perturbed[i * d + top[j]!]!);
    let b = 0;
    for (let j = 0; j < n2; j++) b += shift[i * d + top[j]!]!;
    q[i] = a + lmbda * b;
  }
  return q;
}

/** min + (1 − ECDF(q))·(max − min), ECDF(t) = share of the (ascending) reference values ≤ t (statsmodels' ECDF). */
export function adascalePercentiles(q: Float64Array, sortedReference: Float64Array, [lo, hi]: readonly [number, number]): Float64Array {
  const m = sortedReference.length;
  return q.map((t) => {
    let a = 0;
    let b = m;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (sortedReference[mid]! <= t) a = mid + 1;
      else b = mid;
    }
    return lo + (1 - a / m) * (hi - lo);
  });
}

/** OpenOOD's `ada_scale`: Σx / Σ(top-k x) with x = relu(z), k = d − round(d·p/100) per row. */
export function adaScaleFactors(z: Float32Array, d: number, percentiles: Float64Array): Float64Array {
  return percentiles.map((p, i) => {
    const row = Array.from(z.subarray(i * d, (i + 1) * d), (v) => Math.max(0, v));
    const k = d - roundHalfEven((d * p) / 100);
    const total = row.reduce((s, v) => s + v, 0);
    row.sort((a, b) => b - a);
    let top = 0;
    for (let j = 0; j < k; j++) top += row[j]!;
    return total / top;
  });
}

type Variant = 'a' | 'l';

/**
 * AdaScale (Regmi et al. 2025), as OpenOOD's `adascale` postprocessor with its AdaScaleANet /
 * AdaScaleLNet (openood/postprocessors/adascale_postprocessor.py, openood/networks/adascale_net.py,
 * configs/postprocessors/adascale_{a,l}.yml). Setup: z, z̃ (perturbed input, see adascaleFeatures) and
 * |z − z̃| of a random `num_samples` subset of ID val, whose Q′ (adascaleQ) forms the ECDF. Scoring: each
 * sample's percentile from the ECDF of its Q′, s = ada_scale(relu(z), percentile); adascale_a: logits of
 * z·e^s, adascale_l: logits(z)·s²; conf = logsumexp, pred = argmax.
 */
export class AdascalePostprocessor extends BasePostprocessor<typeof adascaleArgs> {
  readonly name: string;
  override readonly needsNetwork = true;
  override readonly networkUse = 'input gradients and intermediate blocks';
  private network?: Classifier;
  private model?: ScoringModel;
  private logged?: { z: Float32Array; perturbed: Float32Array; shift: Float32Array; o: number; numSamples: number };
  private reference?: Float64Array;
  private readonly rng: Rng;

  constructor(
    schema: typeof adascaleArgs,
    args: AdascaleArgs,
    ctx: BuildContext,
    private readonly variant: Variant,
  ) {
    super(schema, args);
    this.name = `adascale_${variant}`;
    this.rng = ctx.rng.derive('val-subset');
  }

  protected override async fit(model: ScoringModel, _data: PostprocessorSetupData): Promise<void> {
    this.model = model;
    this.network = model.network;
    this.logged = undefined;
  }

  protected override async derive(): Promise<void> {
    const { o, num_samples: numSamples, k1, k2, lmbda } = this.args;
    // the val pass depends on o (the perturbation) and the subset size; the rest is recomputed from it
    if (!this.logged || this.logged.o !== o || this.logged.numSamples !== numSamples) this.logged = await this.logVal(o, numSamples);
    const d = this.head.featureDim;
    const q = adascaleQ(this.logged.z, this.logged.perturbed, this.logged.shift, d, k1, k2, lmbda);
    this.reference = q.sort();
  }

  private async logVal(o: number, numSamples: number) {
    const stream = this.model!.setupInputs?.('val');
    if (!stream)
      throw new UsageError(`${this.name} fits on the ID val inputs, but the source offers none (no val split, or a feature folder)`);
    const d = this.head.featureDim;
    const parts: { z: Float32Array; perturbed: Float32Array; shift: Float32Array }[] = [];
    for await (const batch of stream) {
      try {
        const f = adascaleFeatures(this.network!, batch.x, o);
        try {
          const [z, perturbed, shift] = (await Promise.all([f.z.data(), f.perturbed.data(), f.shift.data()])) as Float32Array[];
          parts.push({ z: z!, perturbed: perturbed!, shift: shift! });
        } finally {
          tf.dispose([f.z, f.perturbed, f.shift]);
        }
      } finally {
        batch.x.dispose();
        batch.y.dispose();
      }
    }
    const total = parts.reduce((s, p) => s + p.z.length / d, 0);
    if (total === 0) throw new DataError(`${this.name}: the ID val split is empty`);
    const all = (key: 'z' | 'perturbed' | 'shift') => {
      const out = new Float32Array(total * d);
      let off = 0;
      for (const p of parts) {
        out.set(p[key], off);
        off += p[key].length;
      }
      return out;
    };
    const z = all('z');
    const perturbed = all('perturbed');
    const shift = all('shift');
    // torch.randperm(total)[:num_samples]: a seeded subset (order does not matter to the ECDF)
    const keep = this.rng.derive(`${numSamples}`).permutation(total).subarray(0, Math.min(numSamples, total));
    const pick = (src: Float32Array) => {
      const out = new Float32Array(keep.length * d);
      keep.forEach((r, i) => out.set(src.subarray(r * d, (r + 1) * d), i * d));
      return out;
    };
    return { z: pick(z), perturbed: pick(perturbed), shift: pick(shift), o, numSamples };
  }

  protected override releaseState(): void {
    this.network = undefined;
    this.model = undefined;
    this.logged = undefined;
    this.reference = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const x = batch.inputs;
    if (!x) throw new UsageError(`${this.name} perturbs inputs: the score batch must carry \`inputs\``);
    const { k1, k2, lmbda, o, percentile } = this.args;
    const d = this.head.featureDim;
    const f = adascaleFeatures(this.network!, x, o);
    let host: Float32Array[];
    try {
      host = (await Promise.all([f.z.data(), f.perturbed.data(), f.shift.data()])) as Float32Array[];
    } catch (e) {
      tf.dispose([f.z, f.perturbed, f.shift]);
      throw e;
    }
    tf.dispose([f.perturbed, f.shift]);
    const [z, perturbed, shift] = host as [Float32Array, Float32Array, Float32Array];
    const q = adascaleQ(z, perturbed, shift, d, k1, k2, lmbda);
    const scale = adaScaleFactors(z, d, adascalePercentiles(q, this.reference!, percentile));
    const logits = tf.tidy(() => {
      const s = tf.tensor2d(Float32Array.from(scale), [scale.length, 1]);
      if (this.variant === 'a') return this.head.logits(tf.mul(f.z, tf.exp(s)) as Tensor2D);
      return tf.mul(this.head.logits(f.z), tf.square(s)) as Tensor2D;
    });
    f.z.dispose();
    return scoreLogits(logits, (l) => logSumExp(l));
  }
}

/** AdaScale-A: z·e^s before the final layer. */
export class AdascaleAPostprocessor extends AdascalePostprocessor {
  constructor(schema: typeof adascaleArgs, args: AdascaleArgs, ctx: BuildContext) {
    super(schema, args, ctx, 'a');
  }
}

/** AdaScale-L: logits·s². */
export class AdascaleLPostprocessor extends AdascalePostprocessor {
  constructor(schema: typeof adascaleArgs, args: AdascaleArgs, ctx: BuildContext) {
    super(schema, args, ctx, 'l');
  }
}

const grid = { percentile: PERCENTILE_SWEEP, k1: [5], k2: [1], lmbda: [10], o: [0.05] };

export const adascaleADefinition = definePostprocessor(
  {
    name: 'adascale_a',
    description: 'AdaScale-A: energy of z scaled by e^s, s from a per-sample pruning percentile (perturbation-adaptive)',
    args: adascaleArgs,
    grid,
  },
  AdascaleAPostprocessor,
);

export const adascaleLDefinition = definePostprocessor(
  {
    name: 'adascale_l',
    description: 'AdaScale-L: energy of the logits scaled by s², s from a per-sample pruning percentile',
    args: adascaleArgs,
    grid,
  },
  AdascaleLPostprocessor,
);
