import { tf } from '@oodkit/compute';
import type { ScoreBatch, ScoreResult } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor, type GridFolds } from '../lifecycle/index.js';
import { scoreLogits } from '../math/softmax.js';

export const genArgs = z.strictObject({
  gamma: z.number().positive().default(0.1).describe('exponent γ of p^γ(1−p)^γ'),
  M: z.number().int().positive().default(100).describe('number of largest probabilities summed (all classes when M ≥ C)'),
});

/**
 * Generalized entropy (GEN, Liu et al. 2023): conf = −Σ over the M largest softmax probabilities of
 * p^γ(1−p)^γ. M larger than the number of classes means all of them (OpenOOD slices [-M:]).
 */
export function generalizedEntropy(probs: Tensor2D, gamma: number, m: number): Tensor1D {
  return tf.tidy(() => {
    const k = Math.min(m, probs.shape[1]);
    const top = tf.topk(probs, k, true).values;
    return tf.neg(tf.sum(tf.mul(tf.pow(top, gamma), tf.pow(tf.sub(1, top), gamma)), 1)) as Tensor1D;
  });
}

export class GenPostprocessor extends BasePostprocessor<typeof genArgs> {
  readonly name = 'gen';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const { gamma, M } = this.args;
    return scoreLogits(this.head.logits(this.features(batch)), (l) => generalizedEntropy(tf.softmax(l) as Tensor2D, gamma, M));
  }

  /** M values ≥ C all mean "every class": one grid point, M = C. */
  protected override gridFolds(): GridFolds {
    const c = this.head.numClasses;
    return { M: (m) => Math.min(Number(m), c) };
  }
}

export const genDefinition = definePostprocessor(
  {
    name: 'gen',
    description: 'generalized entropy over the top-M softmax probabilities',
    args: genArgs,
    grid: { gamma: [0.01, 0.1, 0.5, 1, 2, 5, 10], M: [10, 50, 100, 200, 500, 1000] },
  },
  GenPostprocessor,
);
