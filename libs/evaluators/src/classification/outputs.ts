import { DataError } from '@oodkit/core';

/** What a classifier produced on a labelled split: row-major logits [n × numClasses] and the labels. */
export interface ClassifierOutputs {
  /** Split name, for messages and reports. */
  readonly split: string;
  readonly logits: Float32Array;
  readonly numClasses: number;
  readonly labels: Int32Array;
}

/** A registered evaluator of classifier outputs (`acc`, `ece`): metrics as a JSON-ready record. */
export interface ClassificationEvaluator {
  readonly name: string;
  evaluate(outputs: ClassifierOutputs): ClassificationMetrics;
}

/** Every classification evaluator reports the accuracy and its sample count; the rest is its own. */
export interface ClassificationMetrics {
  readonly evaluator: string;
  readonly split: string;
  readonly count: number;
  /** Fraction of samples whose argmax logit is the label. */
  readonly accuracy: number;
  readonly [metric: string]: unknown;
}

export function isClassificationEvaluator(value: unknown): value is ClassificationEvaluator {
  return (
    typeof value === 'object' && value !== null && typeof (value as ClassificationEvaluator).evaluate === 'function' && 'name' in value
  );
}

/** Checks shapes and labels once, so every evaluator can index freely. */
export function checkOutputs(outputs: ClassifierOutputs): number {
  const { logits, numClasses, labels, split } = outputs;
  const n = labels.length;
  if (n === 0) throw new DataError(`split '${split}': no samples to evaluate`);
  if (!(Number.isInteger(numClasses) && numClasses > 0) || logits.length !== n * numClasses) {
    throw new DataError(`split '${split}': ${logits.length} logits for ${n} samples × ${numClasses} classes`);
  }
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    if (!(y >= 0 && y < numClasses))
      throw new DataError(`split '${split}': label ${y} of sample ${i} is not a class in 0..${numClasses - 1}`);
  }
  return n;
}

/** Per row: argmax (first maximum, as torch.max), max logit, and max softmax probability (float64, max-shifted). */
export function rowSummaries(outputs: ClassifierOutputs): {
  pred: Int32Array;
  maxLogit: Float64Array;
  maxProb: Float64Array;
  nll: Float64Array;
} {
  const n = checkOutputs(outputs);
  const { logits, numClasses: k, labels } = outputs;
  const pred = new Int32Array(n);
  const maxLogit = new Float64Array(n);
  const maxProb = new Float64Array(n);
  const nll = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[o + j]! > logits[o + best]!) best = j;
    const m = logits[o + best]!;
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[o + j]! - m);
    pred[i] = best;
    maxLogit[i] = m;
    maxProb[i] = 1 / sum;
    nll[i] = Math.log(sum) - (logits[o + labels[i]!]! - m);
  }
  return { pred, maxLogit, maxProb, nll };
}
