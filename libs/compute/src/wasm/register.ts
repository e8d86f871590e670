import { tf } from '../tf.js';
import { conv2dBackpropFilterConfig, conv2dBackpropInputConfig } from './conv2d-backprop.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-backprop.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { tileConfig } from './tile.js';
import { resizeNearestNeighborGradConfig } from './resize-nearest-grad.js';
import { captureWasmKernels } from './util.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';
import { batchNormTrainConfig, batchNormTrainGradConfig } from './batch-norm-train.js';
import { biasReluConfig, biasReluGradConfig } from './bias-relu.js';
import { sumConfig } from './sum.js';
import { conv2dConfig, fusedConv2dConfig } from './conv2d/kernels.js';
import { batchMatMulConfig } from './batch-mat-mul.js';
import { identityConfig } from './identity.js';
import { sliceConfig } from './slice.js';

/** The kernels oodkit adds to (or replaces in) the wasm backend so that CNNs can be trained on it. */
export const wasmTrainingKernels: readonly tf.KernelConfig[] = [
  conv2dConfig,
  fusedConv2dConfig,
  batchMatMulConfig,
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  unsortedSegmentSumConfig,
  resizeNearestNeighborGradConfig,
  maxPoolGradConfig,
  tileConfig,
  sumConfig,
  batchNormTrainConfig,
  batchNormTrainGradConfig,
  biasReluConfig,
  biasReluGradConfig,
  identityConfig,
  sliceConfig,
];

let registered = false;

/**
 * Registers the training kernels for 'wasm' (idempotent). Existing registrations of the same names
 * (the built-in, slow Conv2DBackpropInput; the
 * built-in ResizeNearestNeighborGrad, which ignores halfPixelCenters; the slow built-in MaxPoolGrad, Tile and leading-axes Sum; the copying Identity; the Slice that
 * copies its whole input) are removed first so tfjs does not warn about duplicates.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  captureWasmKernels();
  for (const config of wasmTrainingKernels) {
    const builtIn = tf.getKernel(config.kernelName, 'wasm');
    if (builtIn) tf.unregisterKernel(config.kernelName, 'wasm');
    // A replaced kernel that falls back to the built-in one needs the built-in's setup (it binds the
    // C++ entry point when the backend starts).
    tf.registerKernel(builtIn?.setupFunc && !config.setupFunc ? { ...config, setupFunc: builtIn.setupFunc } : config);
  }
  registered = true;
}

export { setConvBackpropRoutes, type ConvRoute, type FilterRoute, type InputRoute } from './conv2d-backprop.js';
export { setConvAlgorithms, setConvForwardRoute, type ConvAlgorithms, type ForwardRoute } from './conv2d/route.js';
