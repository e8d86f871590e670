import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { heapOffset, kernelThreads, runShares } from './simd.js';

type TensorInfo = tf.TensorInfo;

/**
 * dx[argmax of each window] += dy, with the cpu backend's tie rule (first maximum in row-major
 * window order, strict >, so NaN windows pass no gradient). Replaces tfjs-backend-wasm's kernel,
 * which re-scans every window per input pixel and was the largest single cost of a LeNet step.
 * The loop is csrc/max_pool_grad.c's max_pool_grad.
 */
export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
    const a = attrs as unknown as {
      filterSize: number | [number, number];
      strides: number | [number, number];
      pad: 'valid' | 'same' | number;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    if (dy.dtype !== 'float32' || input.dtype !== 'float32') throw new Error('MaxPoolGrad on wasm: expected float32 tensors');
    const wasm = backend as BackendWasm;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, strideHeight, strideWidth } = info;
    const fh = info.effectiveFilterHeight;
    const fw = info.effectiveFilterWidth;
    const out = wasm.makeOutput([...input.shape], 'float32');
    // Images are independent (no window crosses one), so threads take disjoint batch ranges.
    const parts = Math.min(kernelThreads(wasm), batchSize);
    const [px, pdy, pdx] = [heapOffset(wasm, input), heapOffset(wasm, dy), heapOffset(wasm, out)];
    const inImage = 4 * inHeight * inWidth * C;
    const outImage = 4 * outHeight * outWidth * C;
    const shares = Array.from({ length: parts }, (_, p) => {
      const [b0, b1] = [Math.round((p * batchSize) / parts), Math.round(((p + 1) * batchSize) / parts)];
      return [
        px + b0 * inImage,
        pdy + b0 * outImage,
        pdx + b0 * inImage,
        b1 - b0,
        inHeight,
        inWidth,
        C,
        outHeight,
        outWidth,
        fh,
        fw,
        strideHeight,
        strideWidth,
        info.padInfo.top,
        info.padInfo.left,
      ];
    });
    runShares(wasm, 'max_pool_grad', shares);
    return out;
  },
};
