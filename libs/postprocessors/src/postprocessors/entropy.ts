import { tf } from '@oodkit/compute';
import { defineComponent, type ScoreBatch, type ScoreResult } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor } from '../math/base.js';
import { scoreLogits } from '../math/softmax.js';

export const entropyArgs = z.strictObject({});

/** The floor pytorch-ood clips probabilities to before taking their log. */
export const ENTROPY_CLIP = 1e-7;

/**
 * Negative Shannon entropy of the softmax, conf = Σ_c p_c log p_c with p clipped to [1e-7, 1]
 * (pytorch-ood's `Entropy.score` returns the entropy −Σ p log p as outlier score; OpenOOD has no
 * entropy postprocessor). Uniform posteriors score lowest, −log C.
 */
export function negativeEntropy(logits: Tensor2D): Tensor1D {
  return tf.tidy(() => {
    const p = tf.clipByValue(tf.softmax(logits), ENTROPY_CLIP, 1);
    return tf.sum(tf.mul(p, tf.log(p)), 1) as Tensor1D;
  });
}

/** Entropy-based OOD detection (the classic predictive-uncertainty baseline). pred = argmax ℓ. */
export class EntropyPostprocessor extends BasePostprocessor<typeof entropyArgs> {
  readonly name = 'entropy';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    return scoreLogits(this.head.logits(this.features(batch)), negativeEntropy);
  }
}

export const entropyDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'entropy',
  description: 'negative entropy of the softmax (pytorch-ood Entropy, p clipped at 1e-7)',
  args: entropyArgs,
  create: (args) => new EntropyPostprocessor(entropyArgs, args),
});
