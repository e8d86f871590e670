import { batchNormTrain, biasRelu, tf } from '@oodkit/compute';
import type { ParameterStore } from './params.js';
import { kaimingNormalFanOut, torchDefaultUniform } from './init.js';

export type ConvInit = 'torch_default' | 'kaiming_normal_fan_out';

/** A 2-D convolution with PyTorch's symmetric zero padding (tfjs 'same' pads asymmetrically for stride 2). */
export interface Conv {
  readonly weight: tf.Variable; // [kh, kw, in, out] (tfjs layout)
  readonly bias?: tf.Variable;
  readonly stride: number;
  readonly pad: number;
}

export function makeConv(
  store: ParameterStore,
  name: string,
  spec: { inChannels: number; outChannels: number; kernel: number; stride?: number; pad?: number; bias: boolean; init: ConvInit },
): Conv {
  const { inChannels, outChannels, kernel } = spec;
  const shape = [kernel, kernel, inChannels, outChannels];
  const fanIn = inChannels * kernel * kernel;
  const weightInit = store.initial(`${name}.weight`, shape, (seed) =>
    spec.init === 'torch_default'
      ? torchDefaultUniform(shape, fanIn, seed)
      : kaimingNormalFanOut(shape, outChannels * kernel * kernel, seed),
  );
  const weight = store.add(`${name}.weight`, weightInit, true, 'conv2d');
  const bias = spec.bias
    ? store.add(
        `${name}.bias`,
        store.initial(`${name}.bias`, [outChannels], (seed) => torchDefaultUniform([outChannels], fanIn, seed)),
        true,
      )
    : undefined;
  return { weight, bias, stride: spec.stride ?? 1, pad: spec.pad ?? 0 };
}

/** The convolution, its bias, then ReLU when `relu` (bias + ReLU run as one fused op). */
export function conv2d(x: tf.Tensor4D, conv: Conv, options: { relu?: boolean } = {}): tf.Tensor4D {
  const pad = conv.pad;
  const padding: 'valid' | [[number, number], [number, number], [number, number], [number, number]] =
    pad === 0
      ? 'valid'
      : [
          [0, 0],
          [pad, pad],
          [pad, pad],
          [0, 0],
        ];
  const y = tf.conv2d(x, conv.weight as tf.Tensor4D, conv.stride, padding);
  if (options.relu) return conv.bias ? biasRelu(y, conv.bias as tf.Tensor1D) : tf.relu(y);
  return conv.bias ? (tf.add(y, conv.bias) as tf.Tensor4D) : y;
}

/** BatchNorm2d with PyTorch's semantics: eps 1e-5, momentum 0.1, unbiased variance in the running estimate. */
export interface BatchNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly eps: number;
  readonly momentum: number;
}

/**
 * PyTorch's BatchNorm2d also keeps `num_batches_tracked`; it only matters with `momentum=None`
 * (cumulative averaging), which no OpenOOD network uses, so it is a declared state_dict entry without
 * a variable: checkpoints must provide it as PyTorch's strict loading requires, and its value is unused.
 */
export function makeBatchNorm(store: ParameterStore, name: string, channels: number): BatchNorm {
  const bn: BatchNorm = {
    gamma: store.add(`${name}.weight`, tf.ones([channels]), true),
    beta: store.add(`${name}.bias`, tf.zeros([channels]), true),
    runningMean: store.add(`${name}.running_mean`, tf.zeros([channels]), false),
    runningVar: store.add(`${name}.running_var`, tf.ones([channels]), false),
    eps: 1e-5,
    momentum: 0.1,
  };
  store.declareUnstored(`${name}.num_batches_tracked`, []);
  return bn;
}

/**
 * Training mode normalises with the batch statistics and updates the running ones in place; eval
 * mode uses the running statistics. The running statistics are not in any gradient's variable list,
 * so their update never contributes to a gradient (tfjs prunes tape nodes that do not reach the loss).
 * `relu` applies ReLU to the result (fused into the normalisation in training mode).
 */
export function batchNorm(x: tf.Tensor4D, bn: BatchNorm, training: boolean, options: { relu?: boolean } = {}): tf.Tensor4D {
  if (!training) {
    const y = tf.batchNorm4d(
      x,
      bn.runningMean as tf.Tensor1D,
      bn.runningVar as tf.Tensor1D,
      bn.beta as tf.Tensor1D,
      bn.gamma as tf.Tensor1D,
      bn.eps,
    );
    return options.relu ? tf.relu(y) : y;
  }
  const { y, mean, variance } = batchNormTrain(x, bn.gamma as tf.Tensor1D, bn.beta as tf.Tensor1D, bn.eps, options);
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  updateRunningStats(bn, mean, variance, count);
  return y as tf.Tensor4D;
}

/**
 * batchNorm(conv2d(x, conv)) [+ ReLU]. In eval mode the affine batch norm is folded into the
 * convolution, w' = w·γ/√(var + ε), b' = β + (b − mean)·γ/√(var + ε), and run as one fused conv +
 * bias (+ ReLU): the same function up to float rounding (~1e-6 relative), one pass instead of three.
 */
export function convBatchNorm(x: tf.Tensor4D, conv: Conv, bn: BatchNorm, training: boolean, options: { relu?: boolean } = {}): tf.Tensor4D {
  if (training) return batchNorm(conv2d(x, conv), bn, true, options);
  return tf.tidy(() => {
    const scale = tf.mul(bn.gamma, tf.rsqrt(tf.add(bn.runningVar, bn.eps)));
    const shift = tf.sub(bn.beta, tf.mul(conv.bias ? tf.sub(bn.runningMean, conv.bias) : bn.runningMean, scale));
    const pad = conv.pad;
    return tf.fused.conv2d({
      x,
      filter: tf.mul(conv.weight, scale) as tf.Tensor4D,
      strides: conv.stride,
      pad:
        pad === 0
          ? 'valid'
          : [
              [0, 0],
              [pad, pad],
              [pad, pad],
              [0, 0],
            ],
      bias: shift,
      activation: options.relu ? 'relu' : 'linear',
    });
  });
}

function updateRunningStats(bn: BatchNorm, mean: tf.Tensor, variance: tf.Tensor, count: number): void {
  const m = bn.momentum;
  const unbias = count > 1 ? count / (count - 1) : 1;
  const [newMean, newVar] = tf.tidy(() => {
    return [tf.add(tf.mul(bn.runningMean, 1 - m), tf.mul(mean, m)), tf.add(tf.mul(bn.runningVar, 1 - m), tf.mul(variance, m * unbias))];
  });
  bn.runningMean.assign(newMean);
  bn.runningVar.assign(newVar);
  newMean.dispose();
  newVar.dispose();
}

/** Linear layer stored as PyTorch does: weight [out, in], bias [out]; default U(±1/√in) init. */
export interface Linear {
  readonly weight: tf.Variable; // [out, in]
  readonly bias: tf.Variable; // [out]
}

export function makeLinear(store: ParameterStore, name: string, inFeatures: number, outFeatures: number): Linear {
  return {
    weight: store.add(
      `${name}.weight`,
      store.initial(`${name}.weight`, [outFeatures, inFeatures], (seed) =>
        torchDefaultUniform([outFeatures, inFeatures], inFeatures, seed),
      ),
      true,
    ),
    bias: store.add(
      `${name}.bias`,
      store.initial(`${name}.bias`, [outFeatures], (seed) => torchDefaultUniform([outFeatures], inFeatures, seed)),
      true,
    ),
  };
}

export function linear(x: tf.Tensor2D, layer: Linear): tf.Tensor2D {
  return tf.add(tf.matMul(x, layer.weight as tf.Tensor2D, false, true), layer.bias);
}
