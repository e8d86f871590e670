import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { channelScratchBytes, heapOffset, simdKernels, withScratch } from './simd.js';
import { captureWasmKernels } from './util.js';

type TensorInfo = tf.TensorInfo;

/**
 * Sum over every axis but the last (a bias or batch-norm gradient in NHWC) as one streaming pass
 * with per-channel accumulators; tfjs-backend-wasm transposes the reduced axes innermost first.
 * Every other reduction goes to the built-in kernel.
 */
export const sumConfig: tf.KernelConfig = {
  kernelName: 'Sum',
  backendName: 'wasm',
  kernelFunc: (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: TensorInfo };
    const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = rank >= 2 && axes.length === rank - 1 && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== 'float32') return captureWasmKernels().sum(args);
    const wasm = backend as BackendWasm;
    const c = x.shape[rank - 1]!;
    const n = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const out = wasm.makeOutput(keepDims ? [...Array<number>(rank - 1).fill(1), c] : [c], 'float32');
    withScratch(wasm, channelScratchBytes(c), (s) => simdKernels(wasm).col_sum(heapOffset(wasm, x), n, c, 1, heapOffset(wasm, out), s));
    return out;
  },
};
