import { tf } from '@oodkit/compute';

/** Mean cross-entropy of integer labels (F.cross_entropy). */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const target = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/** Mean over samples of −Σ_c q_c·log softmax(ℓ)_c (OpenOOD's soft_cross_entropy / SoftCE). */
export function softCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1))) as tf.Scalar);
}

/** Cross-entropy to the uniform distribution: mean over samples of −(mean_c ℓ − logsumexp ℓ). */
export function uniformCrossEntropy(logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sub(tf.mean(logits, 1), tf.logSumExp(logits, 1)))) as tf.Scalar);
}

export function oneHot(labels: tf.Tensor1D, numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.cast(labels, 'int32'), numClasses), 'float32') as tf.Tensor2D);
}
