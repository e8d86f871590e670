import { tf } from '../tf.js';

/**
 * torch.rot90(x, k, [2, 3]) of an NCHW batch, on our NHWC batch: k quarter turns from the H axis
 * towards W (out[i, j] = x[j, W−1−i] for k = 1), as numpy's rot90. Rotation prediction trains and
 * scores on these (OpenOOD's RotPredTrainer and RotPredPostprocessor).
 */
export function rot90(x: tf.Tensor4D, k: number): tf.Tensor4D {
  return tf.tidy(() => {
    const turns = ((k % 4) + 4) % 4;
    if (turns === 0) return tf.clone(x);
    if (turns === 2) return tf.reverse(x, [1, 2]);
    // k = 1 flips W then swaps H and W; k = 3 swaps then flips W
    if (turns === 1) return tf.transpose(tf.reverse(x, 2), [0, 2, 1, 3]) as tf.Tensor4D;
    return tf.reverse(tf.transpose(x, [0, 2, 1, 3]), 2) as tf.Tensor4D;
  });
}

/** [x, rot90(x), rot180(x), rot270(x)] and the rotation labels [0…0, 1…1, 2…2, 3…3]. Square images only. */
export function rotationBatch(x: tf.Tensor4D): { images: tf.Tensor4D; labels: tf.Tensor1D } {
  if (x.shape[1] !== x.shape[2]) throw new Error(`rotation prediction needs square images, got ${x.shape[1]}×${x.shape[2]}`);
  return tf.tidy(() => {
    const n = x.shape[0];
    const images = tf.concat([0, 1, 2, 3].map((k) => rot90(x, k))) as tf.Tensor4D;
    const labels = tf.tensor1d(
      Int32Array.from({ length: 4 * n }, (_, i) => Math.floor(i / n)),
      'int32',
    );
    return { images, labels };
  });
}
