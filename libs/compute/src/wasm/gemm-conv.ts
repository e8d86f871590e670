import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { batchMatMulSimd } from './batch-mat-mul.js';
import { heapOffset, kernelThreads, runShares } from './simd.js';
import { allocate, captureWasmKernels, release, reshaped, run, view } from './util.js';

type TensorInfo = tf.TensorInfo;

/** Geometry of a forward NHWC convolution (see convGeometry). */
export interface Geometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padLeft: number;
}

/** Images per chunk so that one im2col buffer stays near 4 M floats (bounded heap use at batch 128). */
function chunkSize(g: Geometry): number {
  const perImage = g.outH * g.outW * g.kH * g.kW * g.inC;
  return Math.max(1, Math.min(g.batch, Math.floor(4_194_304 / Math.max(1, perImage))));
}

/** dy rows of images [b0, b0+nb) as a [P, Co] matrix (a view when that is the whole batch). */
function batchRows(backend: BackendWasm, dy: TensorInfo, b0: number, nb: number, g: Geometry): TensorInfo {
  const pixels = g.outH * g.outW;
  if (nb === g.batch) return reshaped(dy, [nb * pixels, g.outC]);
  const k = captureWasmKernels();
  return run(k.slice, backend, { x: reshaped(dy, [g.batch * pixels, g.outC]) }, { begin: [b0 * pixels, 0], size: [nb * pixels, g.outC] });
}

function matmul(backend: BackendWasm, a: TensorInfo, b: TensorInfo): TensorInfo {
  return batchMatMulSimd(backend, a, b, false, false);
}

/**
 * dx by GEMM + col2im: dcol[p, (i,j,ci)] = Σ_co dy[p,co]·W[i,j,ci,co], then every column entry is
 * added to the input pixel its tap read. Exactly the useful FLOPs, so it is the choice when the
 * transposed-convolution route would mostly multiply inserted zeros (strides > 1, outputs much
 * smaller than inputs as in LeNet's last conv).
 */
export function backpropInputGemm(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, g: Geometry): TensorInfo {
  const k = captureWasmKernels();
  const K = g.kH * g.kW * g.inC;
  const wT = run(k.transpose, backend, { x: reshaped(filter, [K, g.outC]) }, { perm: [1, 0] }); // [Co, K]
  const out = allocate(backend, [g.batch, g.inH, g.inW, g.inC]);
  const chunk = chunkSize(g);
  const pixels = g.outH * g.outW;
  for (let b0 = 0; b0 < g.batch; b0 += chunk) {
    const nb = Math.min(chunk, g.batch - b0);
    const P = nb * pixels;
    const dySlice = batchRows(backend, dy, b0, nb, g);
    const dcol = matmul(backend, reshaped(dySlice, [1, P, g.outC]), reshaped(wT, [1, g.outC, K]));
    // col2im (csrc/col2im.c), images split over the kernel pool.
    const parts = Math.min(kernelThreads(backend), nb);
    const common = [heapOffset(backend, dcol), heapOffset(backend, out), b0];
    const geometry = [g.inH, g.inW, g.inC, g.outH, g.outW, g.kH, g.kW, g.strideH, g.strideW, g.dilationH, g.dilationW, g.padTop, g.padLeft];
    runShares(
      backend,
      'col2im_add',
      Array.from({ length: parts }, (_, p) => [
        ...common,
        b0 + Math.round((p * nb) / parts),
        b0 + Math.round(((p + 1) * nb) / parts),
        ...geometry,
      ]),
    );
    release(backend, dcol);
    if (nb !== g.batch) release(backend, dySlice);
  }
  release(backend, wT);
  return out;
}

/**
 * dW by im2col + GEMM: dWᵀ[co, (i,j,ci)] = Σ_p dyᵀ[co,p]·col[p,(i,j,ci)], accumulated over batch
 * chunks, then transposed to [kH,kW,Ci,Co]. Column rows are built with contiguous Ci-long copies.
 */
export function backpropFilterGemm(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: Geometry): TensorInfo {
  const k = captureWasmKernels();
  const K = g.kH * g.kW * g.inC;
  const Co = g.outC;
  const Ci = g.inC;
  const pixels = g.outH * g.outW;
  const chunk = chunkSize(g);
  const acc = new Float32Array(Co * K);
  for (let b0 = 0; b0 < g.batch; b0 += chunk) {
    const nb = Math.min(chunk, g.batch - b0);
    const P = nb * pixels;
    const dySlice = batchRows(backend, dy, b0, nb, g);
    const dyT = run(k.transpose, backend, { x: dySlice }, { perm: [1, 0] }); // [Co, P]
    const col = allocate(backend, [P, K]);
    const cols = view(backend, col);
    const xs = view(backend, x);
    for (let bb = 0; bb < nb; bb++) {
      const b = b0 + bb;
      for (let oy = 0; oy < g.outH; oy++) {
        for (let ox = 0; ox < g.outW; ox++) {
          const p = (bb * g.outH + oy) * g.outW + ox;
          for (let i = 0; i < g.kH; i++) {
            const y = oy * g.strideH + i * g.dilationH - g.padTop;
            if (y < 0 || y >= g.inH) continue;
            for (let j = 0; j < g.kW; j++) {
              const xx = ox * g.strideW + j * g.dilationW - g.padLeft;
              if (xx < 0 || xx >= g.inW) continue;
              const src = ((b * g.inH + y) * g.inW + xx) * Ci;
              cols.set(xs.subarray(src, src + Ci), p * K + (i * g.kW + j) * Ci);
            }
          }
        }
      }
    }
    const part = matmul(backend, reshaped(dyT, [1, Co, P]), reshaped(col, [1, P, K])); // [1, Co, K]
    const partial = view(backend, part);
    for (let e = 0; e < acc.length; e++) acc[e]! += partial[e]!;
    release(backend, part, col, dyT);
    if (nb !== g.batch) release(backend, dySlice);
  }
  const out = allocate(backend, [g.kH, g.kW, Ci, Co]);
  const dw = view(backend, out);
  for (let co = 0; co < Co; co++) for (let e = 0; e < K; e++) dw[e * Co + co] = acc[co * K + e]!;
  return out;
}
