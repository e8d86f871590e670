import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';

type TensorInfo = tf.TensorInfo;

/**
 * Tile by block copies: along each axis (innermost first) the already-built block is replicated
 * with doubling copyWithin (memmove on the wasm heap). tfjs's batch-norm gradient tiles [1,1,1,C]
 * vectors to full activation size; the built-in wasm Tile did this element by element and cost
 * more than the forward convolutions of a ResNet step.
 */
export const tileConfig: tf.KernelConfig = {
  kernelName: 'Tile',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: TensorInfo };
    const { reps } = attrs as unknown as { reps: number[] };
    const wasm = backend as BackendWasm;
    if (x.dtype === 'string') throw new Error('Tile on wasm does not support string tensors');
    const rank = x.shape.length;
    const outShape = x.shape.map((s, i) => s * reps[i]!);
    const out = wasm.makeOutput(outShape, x.dtype);
    if (tf.util.sizeFromShape(outShape) === 0) return out;
    const dst = wasm.typedArrayFromHeap(out);
    const src = wasm.typedArrayFromHeap(x);
    if (rank === 0) {
      dst[0] = src[0]!;
      return out;
    }
    const inStrides = tf.util.computeStrides(x.shape);
    const outInner: number[] = new Array(rank).fill(1);
    for (let i = rank - 2; i >= 0; i--) outInner[i] = outInner[i + 1]! * outShape[i + 1]!;
    const replicate = (start: number, block: number, times: number) => {
      const total = block * times;
      let filled = block;
      while (filled < total) {
        const n = Math.min(filled, total - filled);
        dst.copyWithin(start + filled, start, start + n);
        filled += n;
      }
    };
    const build = (axis: number, inOff: number, outOff: number) => {
      const s = x.shape[axis]!;
      if (axis === rank - 1) {
        dst.set(src.subarray(inOff, inOff + s), outOff);
      } else {
        const inStride = inStrides[axis] ?? 1;
        for (let i = 0; i < s; i++) build(axis + 1, inOff + i * inStride, outOff + i * outInner[axis]!);
      }
      replicate(outOff, s * outInner[axis]!, reps[axis]!);
    };
    build(0, 0, 0);
    return out;
  },
};
