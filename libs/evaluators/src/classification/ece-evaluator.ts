import { defineComponent } from '@oodkit/core';
import { z } from 'zod';
import { rowSummaries, type ClassificationEvaluator, type ClassificationMetrics, type ClassifierOutputs } from './outputs.js';

export const eceEvaluatorArgs = z.strictObject({
  num_bins: z.int().positive().default(15).describe('equal-width confidence bins on [0, 1] (OpenOOD: 15)'),
  confidence: z
    .enum(['softmax', 'logit'])
    .default('softmax')
    .describe("binned confidence: the max softmax probability, or the max logit as OpenOOD's code literally bins"),
});
export type EceEvaluatorArgs = z.infer<typeof eceEvaluatorArgs>;

export interface CalibrationBin {
  /** [lower, upper) of the bin. */
  readonly lower: number;
  readonly upper: number;
  readonly count: number;
  /** Mean confidence and accuracy of the bin's samples; null for an empty bin. */
  readonly confidence: number | null;
  readonly accuracy: number | null;
}

export interface CalibrationMetrics extends ClassificationMetrics {
  readonly ece: number;
  readonly loss: number;
  readonly bins: readonly CalibrationBin[];
}

/**
 * Expected calibration error as OpenOOD's ECEEvaluator bins it: edges linspace(0, 1, B + 1); bin i
 * holds the samples with edge_i ≤ conf < edge_{i+1} (half-open, so a confidence of exactly 1 — or
 * any value outside [0, 1) — falls in no bin); ECE = Σ_bins (n_b / Σ n_b)·|mean conf_b − acc_b| over
 * the non-empty bins, 0 when every bin is empty.
 */
export function expectedCalibrationError(
  confidence: ArrayLike<number>,
  pred: ArrayLike<number>,
  labels: ArrayLike<number>,
  numBins = 15,
): { ece: number; bins: CalibrationBin[] } {
  // numpy.linspace(0, 1, B + 1): i·step, the last edge exactly 1.
  const edges = Array.from({ length: numBins + 1 }, (_, i) => (i === numBins ? 1 : i * (1 / numBins)));
  const count = new Float64Array(numBins);
  const confSum = new Float64Array(numBins);
  const hits = new Float64Array(numBins);
  for (let s = 0; s < confidence.length; s++) {
    const c = confidence[s]!;
    for (let b = 0; b < numBins; b++) {
      if (edges[b + 1]! > c && c >= edges[b]!) {
        count[b]!++;
        confSum[b]! += c;
        if (pred[s] === labels[s]) hits[b]!++;
        break;
      }
    }
  }
  const total = count.reduce((a, b) => a + b, 0);
  let ece = 0;
  const bins: CalibrationBin[] = [];
  for (let b = 0; b < numBins; b++) {
    const n = count[b]!;
    const conf = n > 0 ? confSum[b]! / n : null;
    const acc = n > 0 ? hits[b]! / n : null;
    if (n > 0 && total > 0) ece += (n / total) * Math.abs(conf! - acc!);
    bins.push({ lower: edges[b]!, upper: edges[b + 1]!, count: n, confidence: conf, accuracy: acc });
  }
  return { ece, bins };
}

export class EceEvaluator implements ClassificationEvaluator {
  readonly name = 'ece';
  constructor(readonly args: EceEvaluatorArgs) {}

  evaluate(outputs: ClassifierOutputs): CalibrationMetrics {
    const { pred, maxLogit, maxProb, nll } = rowSummaries(outputs);
    const { labels } = outputs;
    const { ece, bins } = expectedCalibrationError(
      this.args.confidence === 'softmax' ? maxProb : maxLogit,
      pred,
      labels,
      this.args.num_bins,
    );
    let correct = 0;
    let loss = 0;
    for (let i = 0; i < labels.length; i++) {
      if (pred[i] === labels[i]) correct++;
      loss += nll[i]!;
    }
    return {
      evaluator: 'ece',
      split: outputs.split,
      count: labels.length,
      accuracy: correct / labels.length,
      loss: loss / labels.length,
      ece,
      bins,
    };
  }
}

export const eceEvaluatorDefinition = defineComponent({
  kind: 'evaluator',
  name: 'ece',
  description: "expected calibration error of the max softmax probability in 15 equal-width bins (OpenOOD's ece evaluator), with accuracy",
  args: eceEvaluatorArgs,
  create: (args) => new EceEvaluator(args),
});
