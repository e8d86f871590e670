import { DataError, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type ScoringModel } from '@oodkit/core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, requireSplit } from '../lifecycle/index.js';
import { hostLogits } from '../math/head.js';
import { softmaxRow } from '../math/softmax.js';

export const klmArgs = z.strictObject({});

/**
 * Per predicted class c, the mean softmax of the ID val samples predicted c; a class no val sample
 * is predicted as gets the one-hot e_c (OpenOOD v1.5). Rows are renormalised to sum 1 and stored
 * with their logs for the cross-entropy term.
 */
export function klmTemplates(probs: Float64Array, preds: Int32Array, n: number, c: number): Float64Array {
  const sums = new Float64Array(c * c);
  const counts = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    const k = preds[i];
    counts[k]++;
    for (let j = 0; j < c; j++) sums[k * c + j] += probs[i * c + j];
  }
  for (let k = 0; k < c; k++) {
    if (counts[k] === 0) {
      sums[k * c + k] = 1;
      continue;
    }
    for (let j = 0; j < c; j++) sums[k * c + j] /= counts[k];
  }
  return sums;
}

/**
 * −min_c KL(p ‖ q_c) with scipy.stats.entropy semantics: both distributions renormalised, terms with
 * p_j = 0 contribute 0, p_j > 0 with q_cj = 0 make the divergence +∞. Computed in float64 as
 * Σ p log p − Σ p log q (no cancellation problem in float64).
 */
export function klmScores(probs: Float64Array, n: number, c: number, templates: Float64Array): Float64Array {
  const logQ = new Float64Array(c * c);
  for (let k = 0; k < c; k++) {
    let s = 0;
    for (let j = 0; j < c; j++) s += templates[k * c + j];
    for (let j = 0; j < c; j++) logQ[k * c + j] = Math.log(templates[k * c + j] / s);
  }
  const out = new Float64Array(n);
  const p = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < c; j++) s += probs[i * c + j];
    let negEntropy = 0;
    for (let j = 0; j < c; j++) {
      p[j] = probs[i * c + j] / s;
      if (p[j] > 0) negEntropy += p[j] * Math.log(p[j]);
    }
    let best = Infinity;
    for (let k = 0; k < c; k++) {
      let cross = 0;
      const o = k * c;
      for (let j = 0; j < c; j++) if (p[j] > 0) cross += p[j] * logQ[o + j];
      // cross = −∞ when some q = 0 where p > 0 → KL = +∞
      const kl = negEntropy - cross;
      if (kl < best) best = kl;
    }
    out[i] = -best;
  }
  return out;
}

/** Host softmax (float32 values, as torch returns them) and argmax of each row. */
function softmaxAndPred(logits: Float32Array, n: number, c: number): { probs: Float64Array; preds: Int32Array } {
  const probs = new Float64Array(n * c);
  const preds = new Int32Array(n);
  const row = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    softmaxRow(logits, i * c, c, row);
    // torch's softmax is float32: rounding here reproduces its underflow to exactly 0
    for (let j = 0; j < c; j++) probs[i * c + j] = Math.fround(row[j]);
    let best = 0;
    for (let j = 1; j < c; j++) if (logits[i * c + j] > logits[i * c + best]) best = j;
    preds[i] = best;
  }
  return { probs, preds };
}

/** KL matching (Hendrycks et al. 2022): distance of the softmax to the closest class template. */
export class KlmPostprocessor extends BasePostprocessor<typeof klmArgs> {
  readonly name = 'klm';
  override readonly requires = ['val'] as const;
  private templates?: Float64Array;

  protected override async fit(_model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    const val = requireSplit(data, 'val', this.name, this.head.featureDim);
    const c = this.head.numClasses;
    const { probs, preds } = softmaxAndPred(hostLogits(this.head, val.features, val.count), val.count, c);
    this.templates = klmTemplates(probs, preds, val.count, c);
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const n = z.shape[0];
    const c = this.head.numClasses;
    const l = this.head.logits(z);
    let logits: Float32Array;
    try {
      logits = (await l.data()) as Float32Array;
    } finally {
      l.dispose();
    }
    const { probs, preds } = softmaxAndPred(logits, n, c);
    const conf = klmScores(probs, n, c, this.templates!);
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(conf[i])) throw new DataError(`${this.name}: score of sample ${i} is NaN (non-finite logits?)`);
    }
    return { pred: preds, conf };
  }
}

export const klmDefinition = definePostprocessor(
  {
    name: 'klm',
    description: 'negative KL divergence to the closest mean softmax of ID validation samples per predicted class',
    args: klmArgs,
  },
  KlmPostprocessor,
);
