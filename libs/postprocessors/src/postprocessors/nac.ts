import { tf } from '@oodkit/compute';
import {
  DataError,
  UsageError,
  type BuildContext,
  type Classifier,
  type FeatureSplit,
  type PostprocessorSetupData,
  type Rng,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import type { LinearHead } from '../math/head.js';

/** How a neuron's state is formed from its pooled output o and pooled KL gradient g (ood_coverage's `get_state_func`). */
export const NAC_STATE_METHODS = ['o', 'g_kl', 'o*g_kl', 'sigmoid(o)', 'sigmoid(g_kl)', 'sigmoid(o*g_kl)', 'tanh(o*g_kl)'] as const;
export type NacStateMethod = (typeof NAC_STATE_METHODS)[number];

/** Layers NAC can read: the pooled feature z ('avgpool') and the residual stages of a ResNet. */
export const NAC_LAYERS = ['avgpool', 'layer1', 'layer2', 'layer3', 'layer4'] as const;
export type NacLayer = (typeof NAC_LAYERS)[number];

const layerSettings = (o: number, m: number, sigAlpha: number) =>
  z
    .strictObject({
      O: z.number().positive().default(o).describe('visits of an interval that count as full coverage'),
      M: z
        .number()
        .int()
        .min(2)
        .refine((v) => v % 2 === 0, { message: 'expected an even number of thresholds' })
        .default(m)
        .describe('thresholds of the state histogram (M − 1 intervals)'),
      sig_alpha: z.number().positive().default(sigAlpha).describe('steepness α of sigmoid(α·state)'),
      method: z.enum(NAC_STATE_METHODS).default('sigmoid(o*g_kl)').describe('neuron state from output o and KL gradient g'),
    })
    .default({ O: o, M: m, sig_alpha: sigAlpha, method: 'sigmoid(o*g_kl)' });

export const nacArgs = z.strictObject({
  layers: z
    .array(z.enum(NAC_LAYERS))
    .min(1)
    .refine((l) => new Set(l).size === l.length, { message: 'expected each layer once' })
    .default(['avgpool'])
    .describe("layers whose coverage scores are averaged; 'avgpool' is z (runs on feature folders too), layerK needs the network"),
  valid_num: z.number().int().positive().default(1000).describe('ID train rows the coverage is built from (class-balanced subset)'),
  // per-layer defaults of ood_coverage's configs/postprocessors/nac/resnet/nac_cifar10.yml
  avgpool: layerSettings(50, 50, 100),
  layer1: layerSettings(100, 500, 0.001),
  layer2: layerSettings(5, 50, 0.001),
  layer3: layerSettings(100, 500, 1000),
  layer4: layerSettings(50, 50, 100),
});
export type NacArgs = z.infer<typeof nacArgs>;
export type NacLayerSettings = NacArgs['avgpool'];

/** ood_coverage's `logspace(1e3, M)`: M thresholds, denser near 0 and 1, the last two 1.01 and 1.2. */
export function nacThresholds(m: number): Float64Array {
  const num = Math.floor(m / 2);
  const base = 1e3;
  const xl: number[] = [];
  for (let i = 0; i < num; i++) {
    const x = num === 1 ? 1 : 1 + ((Math.sqrt(base) - 1) * i) / (num - 1);
    xl.push(Math.log(x) / Math.log(base));
  }
  const xr = xl.map((v) => 1 - v).reverse();
  const t = [...xl.slice(0, -1), ...xr];
  t[t.length - 1]! += 1e-2;
  t.push(1.2);
  return Float64Array.from(t);
}

/** The neuron states of pooled outputs o and gradients g (both [n · d]). */
export function nacStates(o: Float32Array, g: Float32Array, s: NacLayerSettings): Float64Array {
  const a = s.sig_alpha;
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-a * v));
  const f: Record<NacStateMethod, (o: number, g: number) => number> = {
    o: (x) => x,
    g_kl: (_x, y) => y,
    'o*g_kl': (x, y) => x * y,
    'sigmoid(o)': (x) => sigmoid(x),
    'sigmoid(g_kl)': (_x, y) => sigmoid(y),
    'sigmoid(o*g_kl)': (x, y) => sigmoid(x * y),
    'tanh(o*g_kl)': (x, y) => Math.tanh(x * y * a),
  };
  const fn = f[s.method];
  return Float64Array.from(o, (x, i) => fn(x, g[i]!));
}

/** Interval k with t_k ≤ v < t_{k+1}, or −1 outside [t_0, t_{M−1}). */
function intervalOf(t: Float64Array, v: number): number {
  if (!(v >= t[0]!) || !(v < t[t.length - 1]!)) return -1;
  let lo = 0;
  let hi = t.length - 1; // t[lo] ≤ v < t[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (t[mid]! <= v) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * ood_coverage's `Estimator` for one layer: per neuron, how often ID states fell in each interval,
 * coverage min(count/O, 1); a sample scores the mean over neurons of the coverage of the interval its
 * state falls in (0 outside every interval).
 */
export class NacCoverage {
  readonly thresholds: Float64Array;
  private readonly coverage: Float64Array;

  constructor(
    states: Float64Array,
    readonly neurons: number,
    settings: NacLayerSettings,
  ) {
    this.thresholds = nacThresholds(settings.M);
    const bins = this.thresholds.length - 1;
    const counts = new Float64Array(bins * neurons);
    for (let i = 0; i < states.length; i++) {
      const k = intervalOf(this.thresholds, states[i]!);
      if (k >= 0) counts[k * neurons + (i % neurons)]! += 1;
    }
    this.coverage = counts.map((c) => Math.min(c / settings.O, 1));
  }

  score(states: Float64Array): Float64Array {
    const d = this.neurons;
    const out = new Float64Array(states.length / d);
    for (let i = 0; i < out.length; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const k = intervalOf(this.thresholds, states[i * d + j]!);
        if (k >= 0) s += this.coverage[k * d + j]!;
      }
      out[i] = s / d;
    }
    return out;
  }
}

/** ∂L/∂ℓ of L = Σ_c −(1/C)·log softmax(ℓ)_c (the KL to uniform up to a constant): softmax(ℓ) − 1/C. */
function klLogitGrad(logits: Tensor2D): Tensor2D {
  return tf.sub(tf.softmax(logits, -1), 1 / logits.shape[1]) as Tensor2D;
}

/** o = z and g = ∂L/∂z = (softmax(ℓ) − 1/C)·W for the pooled feature (closed form, no network needed). */
export function nacFeatureSignals(head: LinearHead, z: Tensor2D): { o: Tensor2D; g: Tensor2D } {
  return tf.tidy(() => ({ o: tf.clone(z), g: tf.matMul(klLogitGrad(head.logits(z)), head.weight) as Tensor2D }));
}

/**
 * o = Σ_{h,w} of stage `stage`'s output and g = Σ_{h,w} of ∂L/∂(that output), L as klLogitGrad's, back-
 * propagated through the rest of the network (ood_coverage sums, not averages, over space for ResNets).
 */
export function nacStageSignals(network: Classifier, x: Tensor4D, stage: number): { o: Tensor2D; g: Tensor2D } {
  return tf.tidy(() => {
    const h = network.stageOutput!(x, stage);
    const loss = (state: tf.Tensor) => {
      const logits = network.forwardFromStage!(stage, state as Tensor4D);
      return tf.neg(tf.div(tf.sum(tf.logSoftmax(logits)), logits.shape[1]));
    };
    const grad = tf.grad(loss)(h);
    return { o: tf.sum(h, [1, 2]) as Tensor2D, g: tf.sum(grad, [1, 2]) as Tensor2D };
  });
}

/**
 * ood_coverage's `TrainSubset(valid_num, balanced=True)`: per class present, min(⌊valid_num/classes⌋,
 * smallest class size) rows, each class's rows shuffled from `rng` (the reference: numpy seed 1). Sorted
 * row indices.
 */
export function nacSubset(labels: Int32Array, validNum: number, rng: Rng): Int32Array {
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => {
    const rows = byClass.get(l);
    if (rows) rows.push(i);
    else byClass.set(l, [i]);
  });
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const minLen = Math.min(...classes.map((c) => byClass.get(c)!.length));
  const take = Math.min(Math.floor(validNum / classes.length), minLen);
  if (take === 0) throw new DataError(`nac: valid_num ${validNum} gives no row per class for ${classes.length} classes`);
  const out: number[] = [];
  for (const c of classes) {
    const rows = byClass.get(c)!;
    const order = rng.derive(`class-${c}`).permutation(rows.length);
    for (let j = 0; j < take; j++) out.push(rows[order[j]!]!);
  }
  return Int32Array.from(out.sort((a, b) => a - b));
}

interface LayerSignals {
  readonly o: Float32Array;
  readonly g: Float32Array;
  readonly neurons: number;
}

async function hostSignals(s: { o: Tensor2D; g: Tensor2D }): Promise<{ o: Float32Array; g: Float32Array; neurons: number }> {
  try {
    const [o, g] = await Promise.all([s.o.data(), s.g.data()]);
    return { o: o as Float32Array, g: g as Float32Array, neurons: s.o.shape[1] };
  } finally {
    tf.dispose([s.o, s.g]);
  }
}

const stageOf = (layer: NacLayer) => Number(layer.slice('layer'.length));

/**
 * NAC-UE, neuron activation coverage (Liu, Tian & Wen, ICLR 2024), as the authors' OpenOOD-based
 * reference (BierOne/ood_coverage: openood/postprocessors/nac_postprocessor.py, nac/coverage.py KMNC and
 * Estimator, nac/utils.py, configs/postprocessors/nac/resnet/nac_cifar10.yml). A class-balanced subset
 * of ID train (`valid_num` rows) fills each layer's histogram of neuron states sigmoid(α·o·g), o the
 * spatially summed output and g the summed gradient of the KL to the uniform distribution; a sample's
 * conf is the mean over layers of the mean coverage of its neurons' intervals, pred = argmax ℓ. With
 * `layers: [avgpool]` (the default, as the reference's CIFAR config) it needs only z and the final layer,
 * so it runs on feature folders; stage layers need the network's stages. The grid is the reference's
 * CIFAR-10 sweep of the avgpool layer.
 */
export class NacPostprocessor extends BasePostprocessor<typeof nacArgs> {
  readonly name = 'nac';
  override readonly needsNetwork: boolean;
  override readonly networkUse = 'intermediate layers and their gradients';
  override readonly requires = ['train'] as const;
  private signals = new Map<NacLayer, LayerSignals>();
  private coverage = new Map<NacLayer, NacCoverage>();
  private network?: Classifier;
  private readonly rng: Rng;

  constructor(schema: typeof nacArgs, args: NacArgs, ctx: BuildContext) {
    super(schema, args);
    this.needsNetwork = args.layers.some((l) => l !== 'avgpool');
    this.rng = ctx.rng.derive('subset');
  }

  protected override async fit(model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train: FeatureSplit = requireSplit(data, 'train', this.name, this.head.featureDim);
    const subset = nacSubset(train.labels, this.args.valid_num, this.rng);
    const stages = this.args.layers.filter((l) => l !== 'avgpool');
    if (stages.length > 0) {
      const network = model.network!;
      if (!network.stageOutput || !network.forwardFromStage) {
        throw new UsageError(
          `nac: layers ${stages.join(', ')} are residual stages; network '${network.name}' exposes none (use layers: [avgpool])`,
        );
      }
      this.network = network;
    }
    for (const layer of this.args.layers) {
      if (layer === 'avgpool') {
        const d = train.dim;
        const z = new Float32Array(subset.length * d);
        subset.forEach((r, i) => z.set(train.features.subarray(r * d, (r + 1) * d), i * d));
        const zt = tf.tensor2d(z, [subset.length, d]);
        try {
          this.signals.set(layer, await hostSignals(nacFeatureSignals(this.head, zt)));
        } finally {
          zt.dispose();
        }
      }
    }
    if (stages.length > 0) await this.fitStages(model, stages as NacLayer[], subset, train.count);
  }

  /** Stage signals of the subset rows, from one pass over the train inputs (the feature split's order). */
  private async fitStages(model: ScoringModel, stages: NacLayer[], subset: Int32Array, count: number): Promise<void> {
    const stream = model.setupInputs?.('train');
    if (!stream) throw new UsageError('nac: stage layers fit on the ID train inputs, but the source offers none');
    const parts = new Map<NacLayer, { o: Float32Array[]; g: Float32Array[]; neurons: number }>();
    let offset = 0;
    let next = 0;
    for await (const batch of stream) {
      try {
        const n = batch.x.shape[0];
        const local: number[] = [];
        while (next < subset.length && subset[next]! < offset + n) local.push(subset[next++]! - offset);
        offset += n;
        if (local.length === 0) continue;
        const x = tf.tidy(() => tf.gather(batch.x, tf.tensor1d(local, 'int32')) as Tensor4D);
        try {
          for (const layer of stages) {
            const s = await hostSignals(nacStageSignals(this.network!, x, stageOf(layer)));
            const p = parts.get(layer) ?? { o: [], g: [], neurons: s.neurons };
            p.o.push(s.o);
            p.g.push(s.g);
            parts.set(layer, p);
          }
        } finally {
          x.dispose();
        }
      } finally {
        batch.x.dispose();
        batch.y.dispose();
      }
    }
    if (offset !== count) throw new DataError(`nac: the train loader yielded ${offset} rows, the train split has ${count}`);
    const join = (chunks: Float32Array[]) => {
      const out = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
      let o = 0;
      for (const c of chunks) {
        out.set(c, o);
        o += c.length;
      }
      return out;
    };
    for (const [layer, p] of parts) this.signals.set(layer, { o: join(p.o), g: join(p.g), neurons: p.neurons });
  }

  protected override async derive(): Promise<void> {
    this.coverage.clear();
    for (const layer of this.args.layers) {
      const s = this.signals.get(layer)!;
      const settings = this.args[layer];
      this.coverage.set(layer, new NacCoverage(nacStates(s.o, s.g, settings), s.neurons, settings));
    }
  }

  protected override releaseState(): void {
    this.signals.clear();
    this.coverage.clear();
    this.network = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const n = z.shape[0];
    const conf = new Float64Array(n);
    for (const layer of this.args.layers) {
      let signals;
      if (layer === 'avgpool') signals = await hostSignals(nacFeatureSignals(this.head, z));
      else {
        if (!batch.inputs) throw new UsageError(`nac: layer ${layer} needs the inputs of the score batch`);
        signals = await hostSignals(nacStageSignals(this.network!, batch.inputs, stageOf(layer)));
      }
      const scores = this.coverage.get(layer)!.score(nacStates(signals.o, signals.g, this.args[layer]));
      for (let i = 0; i < n; i++) conf[i]! += scores[i]! / this.args.layers.length;
    }
    const pred = tf.tidy(() => tf.argMax(this.head.logits(z), 1));
    try {
      return { pred: Int32Array.from(await pred.data()), conf };
    } finally {
      pred.dispose();
    }
  }
}

export const nacDefinition = definePostprocessor(
  {
    name: 'nac',
    description: 'NAC-UE: coverage of ID neuron states sigmoid(α·o·∂KL/∂o), averaged over layers',
    args: nacArgs,
    grid: {
      avgpool: [
        { O: 10, M: 50, sig_alpha: 100, method: 'sigmoid(o*g_kl)' },
        { O: 50, M: 50, sig_alpha: 100, method: 'sigmoid(o*g_kl)' },
      ],
    },
  },
  NacPostprocessor,
);
