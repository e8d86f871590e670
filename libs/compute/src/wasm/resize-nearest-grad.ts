import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { allocate, view } from './util.js';

type TensorInfo = tf.TensorInfo;

/** Source index the forward ResizeNearestNeighbor reads for output index `o` (tfjs's rule). */
function sourceIndex(o: number, inSize: number, outSize: number, alignCorners: boolean, halfPixel: boolean): number {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const frac = halfPixel ? ratio * (o + 0.5) : ratio * o;
  const nearest = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
  return halfPixel ? Math.max(0, nearest) : nearest;
}

/**
 * The exact adjoint of the forward nearest-neighbour resize: each dy pixel is added to the input
 * pixel it was copied from. Replaces tfjs-backend-wasm 4.22's kernel, which ignores
 * halfPixelCenters (its gradient then is not the adjoint of the forward op).
 */
export const resizeNearestNeighborGradConfig: tf.KernelConfig = {
  kernelName: 'ResizeNearestNeighborGrad',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { images, dy } = inputs as { images: TensorInfo; dy: TensorInfo };
    const { alignCorners, halfPixelCenters } = attrs as unknown as { alignCorners: boolean; halfPixelCenters?: boolean };
    const wasm = backend as BackendWasm;
    const [batch, inH, inW, depth] = images.shape as [number, number, number, number];
    const [, outH, outW] = dy.shape as [number, number, number, number];
    const rows = Array.from({ length: outH }, (_, r) => sourceIndex(r, inH, outH, alignCorners, !!halfPixelCenters));
    const cols = Array.from({ length: outW }, (_, c) => sourceIndex(c, inW, outW, alignCorners, !!halfPixelCenters));
    const out = allocate(wasm, [batch, inH, inW, depth]);
    const dx = view(wasm, out);
    const dys = view(wasm, dy);
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < outH; r++) {
        const rowBase = (b * inH + rows[r]!) * inW;
        for (let c = 0; c < outW; c++) {
          const s = ((b * outH + r) * outW + c) * depth;
          const d = (rowBase + cols[c]!) * depth;
          for (let k = 0; k < depth; k++) dx[d + k]! += dys[s + k]!;
        }
      }
    }
    return out;
  },
};
