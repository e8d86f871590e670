import { tf } from '../tf.js';
import { BIAS_RELU, BIAS_RELU_GRAD } from './fused-names.js';

/**
 * relu(x + bias), bias broadcast over the last axis. One fused pass forward and one backward where
 * the backend has oodkit's kernel (wasm), the composite tf.relu(tf.add(x, bias)) elsewhere.
 */
export function biasRelu<T extends tf.Tensor>(x: T, bias: tf.Tensor1D): T {
  if (tf.getKernel(BIAS_RELU, tf.getBackend())) {
    registerBiasReluGradient();
    return tf.engine().runKernel(BIAS_RELU, { x, bias }, {}) as T;
  }
  return tf.relu(tf.add(x, bias)) as T;
}

let registered = false;

/** The gradient of the fused kernel (see batch-norm-train.ts for why dbias is kept as an array). */
export function registerBiasReluGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: BIAS_RELU,
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [y] = saved as tf.Tensor[];
      let dbias: Float32Array | undefined;
      const compute = (): tf.Tensor => {
        const [dx, db] = tf.engine().runKernel(BIAS_RELU_GRAD, { dy: dy as tf.Tensor, y: y! }, {}) as tf.Tensor[];
        dbias = db!.dataSync() as Float32Array;
        db!.dispose();
        return dx!;
      };
      return {
        x: compute,
        bias: () => {
          if (!dbias) compute().dispose();
          return tf.tensor1d(dbias!, 'float32');
        },
      };
    },
  });
}
