import { tf } from '@oodkit/compute';
import { DataError, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type ScoringModel } from '@oodkit/core';
import type { Tensor1D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { hostLogits } from '../math/head.js';
import { lbfgsScalar } from '../math/lbfgs.js';
import { scoreLogits } from '../math/softmax.js';

export const tempScalingArgs = z.strictObject({
  fit: z
    .enum(['openood', 'optimum'])
    .default('openood')
    .describe(
      "'openood': torch LBFGS(lr 0.01, max_iter 50) from T = 1.5, exactly as OpenOOD (stops short of the optimum); " +
        "'optimum': the exact minimiser of the validation NLL",
    ),
});

/** Mean NLL of softmax(ℓ/T) and its derivative in T, in float64 over host logits [n, c]. */
export function temperatureNll(
  logits: Float32Array,
  labels: Int32Array,
  n: number,
  c: number,
  temperature: number,
): { loss: number; grad: number } {
  let loss = 0;
  let dBeta = 0; // Σ (E_p[ℓ] − ℓ_y), the derivative in β = 1/T
  const beta = 1 / temperature;
  for (let i = 0; i < n; i++) {
    const o = i * c;
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, logits[o + j] * beta);
    let s = 0;
    let e = 0;
    for (let j = 0; j < c; j++) {
      const w = Math.exp(logits[o + j] * beta - m);
      s += w;
      e += w * logits[o + j];
    }
    const y = labels[i];
    loss += m + Math.log(s) - logits[o + y] * beta;
    dBeta += e / s - logits[o + y];
  }
  // dNLL/dT = dNLL/dβ · dβ/dT = dNLL/dβ · (−1/T²)
  return { loss: loss / n, grad: -(dBeta / n) / (temperature * temperature) };
}

/**
 * The T minimising the mean NLL. The NLL is convex in β = 1/T (log-sum-exp of a linear function),
 * so its β-derivative is monotone: a safeguarded Newton/bisection search on β finds the root.
 * Limits: no root below β = 1e6 (every sample right with margin) → T = 1e-6; derivative ≥ 0 at
 * β = 0 (labels no better than the mean logit) → T = 1e6.
 */
export function optimalTemperature(logits: Float32Array, labels: Int32Array, n: number, c: number): number {
  const derivative = (beta: number): { g: number; h: number } => {
    let g = 0;
    let h = 0;
    for (let i = 0; i < n; i++) {
      const o = i * c;
      let m = -Infinity;
      for (let j = 0; j < c; j++) m = Math.max(m, logits[o + j] * beta);
      let s = 0;
      let e1 = 0;
      let e2 = 0;
      for (let j = 0; j < c; j++) {
        const l = logits[o + j];
        const w = Math.exp(l * beta - m);
        s += w;
        e1 += w * l;
        e2 += w * l * l;
      }
      const mean = e1 / s;
      g += mean - logits[o + labels[i]];
      h += Math.max(0, e2 / s - mean * mean);
    }
    return { g: g / n, h: h / n };
  };
  const betaMax = 1e6;
  const betaMin = 1e-6;
  if (derivative(betaMin).g >= 0) return 1 / betaMin;
  let lo = betaMin;
  let hi = 1;
  while (derivative(hi).g < 0) {
    lo = hi;
    hi *= 2;
    if (hi > betaMax) return 1 / betaMax;
  }
  let beta = (lo + hi) / 2;
  for (let iter = 0; iter < 200 && hi - lo > 1e-15 * hi; iter++) {
    const { g, h } = derivative(beta);
    if (g === 0) break;
    if (g < 0) lo = beta;
    else hi = beta;
    const newton = h > 0 ? beta - g / h : NaN;
    beta = newton > lo && newton < hi ? newton : (lo + hi) / 2;
  }
  return 1 / beta;
}

/** Temperature scaling (Guo et al. 2017): conf = max softmax(ℓ/T), T fitted on ID val NLL. */
export class TempScalingPostprocessor extends BasePostprocessor<typeof tempScalingArgs> {
  readonly name = 'temp_scaling';
  override readonly requires = ['val'] as const;
  private valLogits?: { logits: Float32Array; labels: Int32Array; n: number };
  private fitted = 1;

  /** The fitted temperature (state, not a hyperparameter: `hyperparameters()` stays settable). */
  get temperature(): number {
    return this.fitted;
  }

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const val = requireSplit(data, 'val', this.name, this.head.featureDim);
    const c = this.head.numClasses;
    for (let i = 0; i < val.count; i++) {
      const y = val.labels[i];
      if (!(y >= 0 && y < c))
        throw new DataError(`${this.name}: val split '${val.name}' label ${y} of sample ${i} is not an ID class in [0, ${c})`);
    }
    this.valLogits = { logits: hostLogits(this.head, val.features, val.count), labels: val.labels, n: val.count };
  }

  protected override async derive(): Promise<void> {
    const { logits, labels, n } = this.valLogits!;
    const c = this.head.numClasses;
    this.fitted =
      this.args.fit === 'optimum'
        ? optimalTemperature(logits, labels, n, c)
        : lbfgsScalar((t) => temperatureNll(logits, labels, n, c, t), 1.5, { lr: 0.01, maxIter: 50, float32: true });
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const t = this.fitted;
    return scoreLogits(this.head.logits(this.features(batch)), (l) => tf.max(tf.softmax(tf.div(l, t)), 1) as Tensor1D);
  }
}

export const tempScalingDefinition = definePostprocessor(
  {
    name: 'temp_scaling',
    description: 'max softmax of logits/T, T fitted on ID validation NLL',
    args: tempScalingArgs,
  },
  TempScalingPostprocessor,
);
