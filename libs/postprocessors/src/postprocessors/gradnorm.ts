import { tf } from '@oodkit/compute';
import type { ScoreBatch, ScoreResult } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const gradnormArgs = z.strictObject({});

/**
 * GradNorm's score in closed form. OpenOOD v1.5 (like the authors' code) back-propagates
 * L = −Σ_c log softmax(ℓ)_c (targets all ones, i.e. C·KL(uniform‖p) up to a constant) per sample and
 * takes the L1 norm of ∂L/∂W. Since ∂L/∂ℓ_c = C·p_c − 1 and ∂L/∂W = (C·p − 1) ⊗ z,
 * conf = ‖∂L/∂W‖₁ = (Σ_c |1 − C·p_c|) · ‖z‖₁ — no per-sample backward pass needed.
 */
export function gradnormScore(logits: Tensor2D, features: Tensor2D): Tensor1D {
  return tf.tidy(() => {
    const c = logits.shape[1];
    const p = tf.softmax(logits, -1);
    const logitPart = tf.sum(tf.abs(tf.sub(1, tf.mul(p, c))), 1);
    return tf.mul(logitPart, tf.sum(tf.abs(features), 1)) as Tensor1D;
  });
}

export class GradnormPostprocessor extends BasePostprocessor<typeof gradnormArgs> {
  readonly name = 'gradnorm';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const logits = this.head.logits(z);
    try {
      return await toScoreResult(argmax(logits), gradnormScore(logits, z));
    } finally {
      logits.dispose();
    }
  }
}

export const gradnormDefinition = definePostprocessor(
  {
    name: 'gradnorm',
    description: 'L1 norm of the last-layer gradient of the uniform-target cross-entropy (closed form)',
    args: gradnormArgs,
  },
  GradnormPostprocessor,
);
