import { defineComponent } from '@oodkit/core';
import { z } from 'zod';
import { rowSummaries, type ClassificationEvaluator, type ClassificationMetrics, type ClassifierOutputs } from './outputs.js';

export const accEvaluatorArgs = z.strictObject({
  per_class: z.boolean().default(true).describe('also report the accuracy of every class'),
});
export type AccEvaluatorArgs = z.infer<typeof accEvaluatorArgs>;

export interface ClassAccuracy {
  readonly class: number;
  readonly count: number;
  readonly correct: number;
  /** null for a class without samples in the split. */
  readonly accuracy: number | null;
}

export interface AccuracyMetrics extends ClassificationMetrics {
  readonly correct: number;
  /** Mean cross-entropy of the logits over the samples. */
  readonly loss: number;
  readonly perClass?: readonly ClassAccuracy[];
}

/**
 * OpenOOD's base evaluator (`eval_acc`): the prediction is the argmax of the logits (the first
 * maximum on ties, as torch.max), accuracy = correct / samples; per class over the samples of that class.
 */
export function accuracyMetrics(outputs: ClassifierOutputs, perClass = true): AccuracyMetrics {
  const { pred, nll } = rowSummaries(outputs);
  const { labels, numClasses } = outputs;
  const count = new Int32Array(numClasses);
  const hit = new Int32Array(numClasses);
  let correct = 0;
  let loss = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    count[y]!++;
    loss += nll[i]!;
    if (pred[i] === y) {
      correct++;
      hit[y]!++;
    }
  }
  return {
    evaluator: 'acc',
    split: outputs.split,
    count: labels.length,
    correct,
    accuracy: correct / labels.length,
    loss: loss / labels.length,
    ...(perClass
      ? {
          perClass: Array.from({ length: numClasses }, (_, c) => ({
            class: c,
            count: count[c]!,
            correct: hit[c]!,
            accuracy: count[c]! > 0 ? hit[c]! / count[c]! : null,
          })),
        }
      : {}),
  };
}

export class AccEvaluator implements ClassificationEvaluator {
  readonly name = 'acc';
  constructor(readonly args: AccEvaluatorArgs) {}

  evaluate(outputs: ClassifierOutputs): AccuracyMetrics {
    return accuracyMetrics(outputs, this.args.per_class);
  }
}

export const accEvaluatorDefinition = defineComponent({
  kind: 'evaluator',
  name: 'acc',
  description: 'classification accuracy (argmax of the logits) on the ID test split, overall and per class, with the mean cross-entropy',
  args: accEvaluatorArgs,
  create: (args) => new AccEvaluator(args),
});
