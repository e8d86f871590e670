import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';

/** Floor of ‖x‖ in `l2Normalize` (a zero row stays zero). */
export const NORM_FLOOR = 1e-30;

/** Row-wise log Σ exp, max-subtracted for stability. */
export function logSumExp(logits: Tensor2D): Tensor1D {
  return tf.tidy(() => {
    const m = tf.max(logits, 1, true);
    const lse = tf.add(tf.log(tf.sum(tf.exp(tf.sub(logits, m)), 1, true)), m);
    return lse.reshape([logits.shape[0]]) as Tensor1D;
  });
}

/**
 * Row-wise z / ‖z‖ in float32. OpenOOD's KNN/NNGuide `normalizer` is `x / ‖x‖ + 1e-10` (operator
 * precedence adds 1e-10 to every coordinate): that constant cancels in L2 distances and is below
 * float32 resolution in inner products, so it is left out. A zero row stays zero instead of NaN.
 */
export function l2Normalize(x: Tensor2D): Tensor2D {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(x), 1, true));
    return tf.div(x, tf.maximum(norm, NORM_FLOOR)) as Tensor2D;
  });
}
