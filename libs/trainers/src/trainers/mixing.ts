import { tf } from '@oodkit/compute';
import type { Box } from '../optim/random.js';

/** λ·a + (1−λ)·b. */
export function mixTensors<T extends tf.Tensor>(a: T, b: T, lam: number): T {
  return tf.tidy(() => tf.add(tf.mul(a, lam), tf.mul(b, 1 - lam)) as T);
}

/** `x` with the pixels inside `box` replaced by those of `patch` (both NHWC of the same shape). */
export function pasteBox(x: tf.Tensor4D, patch: tf.Tensor4D, box: Box): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const mask = new Float32Array(h * w);
    for (let r = box.r1; r < box.r2; r++) for (let c = box.c1; c < box.c2; c++) mask[r * w + c] = 1;
    const m = tf.tensor4d(mask, [1, h, w, 1]);
    return tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(patch, m)) as tf.Tensor4D;
  });
}
