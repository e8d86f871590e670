import { DataError, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type ScoringModel } from '@oodkit/core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { hostLogits } from '../math/head.js';
import { fitHighTail, wScore, type TailModel } from '../math/weibull.js';

export const openmaxArgs = z.strictObject({
  tailsize: z.number().int().min(2).default(20).describe('largest train distances per class fitted by the Weibull (libMR fit_high)'),
  alpha: z.number().int().positive().default(3).describe('number of top-ranked classes whose scores are recalibrated'),
  threshold: z.number().min(0).max(1).default(0.9).describe('OpenMax probability below which OpenOOD predicts class C−1'),
});

/** Per class: mean activation vector (mean logits of correctly classified train samples) and its tail model. */
export interface OpenmaxClassModel {
  readonly mav: Float64Array;
  readonly weibull: TailModel;
}

/**
 * OpenMax recalibration of one logit vector `s` (Bendale & Boult 2016, OpenOOD's `openmax` with
 * euclidean distance): the `alpha` top-ranked classes get weights (α + 1 − i)/α, every class c is
 * damped by its Weibull w-score of ‖s − mav_c‖: ŝ_c = s_c(1 − ω_c·w_c); the removed mass
 * Σ (s_c − ŝ_c) is the unknown class's activation. Returns the C + 1 probabilities
 * softmax([ŝ, Σ(s − ŝ)]) (computed max-shifted, equal to OpenOOD's plain exp ratio).
 */
export function openmaxProbabilities(s: ArrayLike<number>, classes: readonly OpenmaxClassModel[], alpha: number): Float64Array {
  const c = classes.length;
  // numpy: argsort ascending, reversed, first α — later indices win ties.
  const order = Array.from({ length: c }, (_, i) => i)
    .sort((a, b) => s[a] - s[b] || a - b)
    .reverse();
  const omega = new Float64Array(c);
  for (let i = 1; i <= Math.min(alpha, c); i++) omega[order[i - 1]] = (alpha + 1 - i) / alpha;
  const act = new Float64Array(c + 1);
  let unknown = 0;
  for (let k = 0; k < c; k++) {
    const { mav, weibull } = classes[k];
    let d2 = 0;
    for (let j = 0; j < c; j++) d2 += (s[j] - mav[j]) ** 2;
    const modified = s[k] * (1 - wScore(weibull, Math.sqrt(d2)) * omega[k]);
    act[k] = modified;
    unknown += s[k] - modified;
  }
  act[c] = unknown;
  let m = -Infinity;
  for (const v of act) m = Math.max(m, v);
  let sum = 0;
  for (let k = 0; k <= c; k++) {
    act[k] = Math.exp(act[k] - m);
    sum += act[k];
  }
  for (let k = 0; k <= c; k++) act[k] /= sum;
  return act;
}

/**
 * OpenMax as OpenOOD v1.5 runs it: activation vectors are the logits; per class, the mean of the
 * correctly classified train logits and a libMR fit_high Weibull on the `tailsize` largest
 * euclidean distances to it. conf = −P(unknown), minus the last of the C + 1 OpenMax
 * probabilities (OpenOOD's `OpenMax.postprocess`); pred = the argmax of the C + 1 probabilities when
 * their max reaches `threshold`, else class C − 1 (OpenOOD's rule; the argmax can be C, the unknown class).
 */
export class OpenmaxPostprocessor extends BasePostprocessor<typeof openmaxArgs> {
  readonly name = 'openmax';
  override readonly requires = ['train'] as const;
  private trainLogits?: Float32Array;
  private trainLabels?: Int32Array;
  private trainName = 'train';
  private classes: OpenmaxClassModel[] = [];

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const train = requireSplit(data, 'train', this.name, this.head.featureDim);
    this.trainLogits = hostLogits(this.head, train.features, train.count);
    this.trainLabels = train.labels;
    this.trainName = train.name;
  }

  /** MAVs do not depend on hyperparameters but the tails do (tailsize); both are cheap. */
  protected override async derive(): Promise<void> {
    const logits = this.trainLogits!;
    const labels = this.trainLabels!;
    const c = this.head.numClasses;
    const rows: number[][] = Array.from({ length: c }, () => []);
    for (let i = 0; i < labels.length; i++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (logits[i * c + j] > logits[i * c + best]) best = j;
      if (best === labels[i]) rows[best].push(i);
    }
    this.classes = rows.map((idx, k) => {
      if (idx.length < 2) {
        throw new DataError(
          `openmax: class ${k} has ${idx.length} correctly classified sample(s) in split '${this.trainName}'; its Weibull tail needs at least 2`,
        );
      }
      const mav = new Float64Array(c);
      for (const i of idx) for (let j = 0; j < c; j++) mav[j] += logits[i * c + j];
      for (let j = 0; j < c; j++) mav[j] /= idx.length;
      const dists = idx.map((i) => {
        let s = 0;
        for (let j = 0; j < c; j++) s += (logits[i * c + j] - mav[j]) ** 2;
        return Math.sqrt(s);
      });
      const weibull = fitHighTail(dists, Math.min(this.args.tailsize, dists.length), undefined, `class ${k} distances`);
      return { mav, weibull };
    });
  }

  get classModels(): readonly OpenmaxClassModel[] {
    return this.classes;
  }

  protected override releaseState(): void {
    this.trainLogits = undefined;
    this.trainLabels = undefined;
    this.classes = [];
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const logitsT = this.head.logits(z);
    let logits: Float32Array;
    try {
      logits = (await logitsT.data()) as Float32Array;
    } finally {
      logitsT.dispose();
    }
    const c = this.head.numClasses;
    const n = z.shape[0];
    const pred = new Int32Array(n);
    const conf = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const probs = openmaxProbabilities(logits.subarray(i * c, (i + 1) * c), this.classes, this.args.alpha);
      let best = 0;
      for (let k = 1; k <= c; k++) if (probs[k] > probs[best]) best = k;
      conf[i] = -probs[c];
      pred[i] = probs[best] >= this.args.threshold ? best : c - 1;
    }
    return { pred, conf };
  }
}

export const openmaxDefinition = definePostprocessor(
  {
    name: 'openmax',
    description:
      'Weibull (EVT) recalibration of logits by their distance to class mean logits; minus the OpenMax unknown-class probability',
    args: openmaxArgs,
  },
  OpenmaxPostprocessor,
);
