import { tf } from '../tf.js';
import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD } from './fused-names.js';

export interface BatchNormTrainResult {
  /** gamma·(x − mean)/√(variance + ε) + beta, then ReLU when asked. */
  y: tf.Tensor;
  /** Per-channel batch mean. */
  mean: tf.Tensor1D;
  /** Per-channel biased batch variance (divided by the row count, as PyTorch normalises). */
  variance: tf.Tensor1D;
}

/**
 * Training-mode batch normalisation over every axis but the last (channels-last), optionally
 * followed by ReLU. Where the backend has oodkit's fused kernel (wasm) it runs as two passes
 * forward and two backward and keeps only x and y for the gradient; elsewhere it is the composite
 * of tf.moments, tf.batchNorm and tf.relu, which defines it (tests hold the two equal).
 * Gradients flow to x, gamma and beta, through y and through mean and variance.
 */
export function batchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  options: { relu?: boolean } = {},
): BatchNormTrainResult {
  const relu = options.relu ?? false;
  if (x.rank < 2) throw new Error(`batchNormTrain: x must have rank ≥ 2 (channels last), got shape [${x.shape}]`);
  if (tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend())) {
    registerBatchNormTrainGradient();
    const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAIN, { x, gamma, beta }, { epsilon, relu }) as tf.Tensor[];
    return { y: y!, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  }
  return batchNormTrainComposite(x, gamma, beta, epsilon, relu);
}

export function batchNormTrainComposite(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  relu: boolean,
): BatchNormTrainResult {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const normed = tf.batchNorm(x, mean, variance, beta, gamma, epsilon);
  return { y: relu ? tf.relu(normed) : normed, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}

let registered = false;

/**
 * The gradient of the fused kernel. Its grad kernel returns dx, dgamma and dbeta together; tfjs asks
 * for each input's gradient in its own tidy scope, so the per-channel dgamma/dbeta of the first call
 * are kept as plain arrays (not tensors, which that scope would dispose or which would leak when
 * an input is pruned) for the later calls of the same backward step.
 */
export function registerBatchNormTrainGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAIN,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [true, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy, dmean, dvariance] = dys as tf.Tensor[];
      const [x, gamma, y, mean, variance] = saved as tf.Tensor[];
      let params: { dgamma: Float32Array; dbeta: Float32Array } | undefined;
      const compute = (): tf.Tensor => {
        const [dx, dgamma, dbeta] = tf
          .engine()
          .runKernel(
            BATCH_NORM_TRAIN_GRAD,
            { dy: dy!, x: x!, gamma: gamma!, y: y!, mean: mean!, variance: variance!, dmean: dmean!, dvariance: dvariance! },
            attrs as unknown as tf.NamedAttrMap,
          ) as tf.Tensor[];
        params = { dgamma: dgamma!.dataSync() as Float32Array, dbeta: dbeta!.dataSync() as Float32Array };
        tf.dispose([dgamma!, dbeta!]);
        return dx!;
      };
      return {
        x: compute,
        gamma: () => {
          if (!params) compute().dispose();
          return tf.tensor1d(params!.dgamma, 'float32');
        },
        beta: () => {
          if (!params) compute().dispose();
          return tf.tensor1d(params!.dbeta, 'float32');
        },
      };
    },
  });
}
