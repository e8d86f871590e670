import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { allocate, view } from './util.js';

type TensorInfo = tf.TensorInfo;

/**
 * dx[argmax of each window] += dy, with the cpu backend's tie rule (first maximum in row-major
 * window order, strict >, so NaN windows pass no gradient). Replaces tfjs-backend-wasm's kernel,
 * which re-scans every window per input pixel and was the largest single cost of a LeNet step.
 * Channels are innermost (NHWC), so each window is scanned once with per-channel running maxima.
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
    const out = allocate(wasm, [...input.shape]);
    const dx = view(wasm, out);
    const xs = view(wasm, input);
    const dys = view(wasm, dy);
    const best = new Float32Array(C);
    const where = new Int32Array(C);
    const padTop = info.padInfo.top;
    const padLeft = info.padInfo.left;
    for (let b = 0; b < batchSize; b++) {
      for (let oy = 0; oy < outHeight; oy++) {
        const y0 = oy * strideHeight - padTop;
        const yMin = y0 < 0 ? 0 : y0;
        const yMax = Math.min(inHeight, y0 + fh);
        for (let ox = 0; ox < outWidth; ox++) {
          const x0 = ox * strideWidth - padLeft;
          const xMin = x0 < 0 ? 0 : x0;
          const xMax = Math.min(inWidth, x0 + fw);
          if (yMin >= yMax || xMin >= xMax) continue;
          // The first window position seeds the running maxima (no per-window fill).
          let first = true;
          for (let y = yMin; y < yMax; y++) {
            let base = ((b * inHeight + y) * inWidth + xMin) * C;
            for (let x = xMin; x < xMax; x++, base += C) {
              if (first) {
                for (let c = 0; c < C; c++) {
                  const v = xs[base + c]!;
                  // As cpu: the running max starts at −∞ and only a strict '>' wins, so NaN and −∞
                  // never become the argmax.
                  const wins = v > Number.NEGATIVE_INFINITY;
                  best[c] = wins ? v : Number.NEGATIVE_INFINITY;
                  where[c] = wins ? base + c : -1;
                }
                first = false;
              } else {
                for (let c = 0; c < C; c++) {
                  const v = xs[base + c]!;
                  if (v > best[c]!) {
                    best[c] = v;
                    where[c] = base + c;
                  }
                }
              }
            }
          }
          const dyBase = ((b * outHeight + oy) * outWidth + ox) * C;
          for (let c = 0; c < C; c++) {
            const p = where[c]!;
            if (p >= 0) dx[p]! += dys[dyBase + c]!;
          }
        }
      }
    }
    return out;
  },
};
