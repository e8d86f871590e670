import { logSumExp, tf } from '@oodkit/compute';
import type { ScoreResult } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';

/** Row-wise log Σ exp (max-subtracted); the one definition lives in @oodkit/compute. */
export { logSumExp };

/** Row-wise softmax, max-subtracted (what torch.softmax does). */
export function softmax(logits: Tensor2D): Tensor2D {
  return tf.tidy(() => tf.softmax(logits, -1));
}

/** Negative free energy T·logsumexp(ℓ/T) (higher = more ID). */
export function energyScore(logits: Tensor2D, temperature = 1): Tensor1D {
  return tf.tidy(() => {
    if (temperature === 1) return logSumExp(logits);
    return tf.mul(logSumExp(tf.div(logits, temperature) as Tensor2D), temperature) as Tensor1D;
  });
}

/** Predicted class = argmax of the logits (first index on ties, as torch.max on CPU and tf.argMax). */
export function argmax(logits: Tensor2D): Tensor1D {
  return tf.tidy(() => tf.argMax(logits, 1) as Tensor1D);
}

/** Download pred and conf, dispose both, and return the protocol's host arrays. */
export async function toScoreResult(pred: Tensor1D, conf: Tensor1D): Promise<ScoreResult> {
  try {
    const [p, c] = await Promise.all([pred.data(), conf.data()]);
    return { pred: Int32Array.from(p), conf: Float64Array.from(c) };
  } finally {
    pred.dispose();
    conf.dispose();
  }
}

/** Score from logits: pred = argmax ℓ, conf = fn(ℓ). Disposes `logits`. */
export async function scoreLogits(logits: Tensor2D, conf: (logits: Tensor2D) => Tensor1D): Promise<ScoreResult> {
  try {
    const pred = argmax(logits);
    const c = tf.tidy(() => conf(logits));
    return await toScoreResult(pred, c);
  } finally {
    logits.dispose();
  }
}

/** Host softmax of one row (float64), for per-sample statistics computed on the CPU. */
export function softmaxRow(logits: ArrayLike<number>, offset: number, length: number, out: Float64Array): void {
  let m = -Infinity;
  for (let j = 0; j < length; j++) m = Math.max(m, logits[offset + j]);
  let s = 0;
  for (let j = 0; j < length; j++) {
    const e = Math.exp(logits[offset + j] - m);
    out[j] = e;
    s += e;
  }
  for (let j = 0; j < length; j++) out[j] /= s;
}
