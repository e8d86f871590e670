import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';

type TensorInfo = tf.TensorInfo;

/**
 * out[s, ...] = Σ_{i: ids[i] = s} x[i, ...] — the gradient of gather (embeddings, label lookups).
 * ids has the shape of a prefix of x; ids outside [0, numSegments) are dropped, as in TensorFlow.
 */
export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
    const { numSegments } = attrs as unknown as { numSegments: number };
    const wasm = backend as BackendWasm;
    const inner = tf.util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
    const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
    const out = wasm.makeOutput(outShape, x.dtype);
    const dst = wasm.typedArrayFromHeap(out) as Float32Array | Int32Array;
    dst.fill(0);
    const src = wasm.typedArrayFromHeap(x) as Float32Array | Int32Array;
    const ids = wasm.typedArrayFromHeap(segmentIds) as Int32Array;
    for (let i = 0; i < ids.length; i++) {
      const s = ids[i]!;
      if (s < 0 || s >= numSegments) continue;
      const so = i * inner;
      const d = s * inner;
      for (let e = 0; e < inner; e++) dst[d + e]! += src[so + e]!;
    }
    return out;
  },
};
