import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { tf } from '../../tf.js';
import { batchMatMulSimd } from '../batch-mat-mul.js';
import type { ConvGeometry } from '../conv-geometry.js';
import { heapOffset, kernelThreads, runShares, simdKernels } from '../simd.js';
import { allocate, release, view } from '../util.js';
import { isSingleChannel } from './route.js';

type TensorInfo = tf.TensorInfo;

/**
 * x zero-padded by the forward padding (csrc/pad.c's pad_nhwc), so the SIMD kernels never test
 * bounds; rows/columns beyond the last window are never read, so the bottom/right padding may be
 * cut. Returns x itself when no padding is needed (the caller releases `padded` otherwise).
 */
export function padForWindows(backend: BackendWasm, x: TensorInfo, g: ConvGeometry): { padded: TensorInfo; inH: number; inW: number } {
  const needH = (g.outH - 1) * g.strideH + (g.kH - 1) * g.dilationH + 1;
  const needW = (g.outW - 1) * g.strideW + (g.kW - 1) * g.dilationW + 1;
  const padBottom = Math.max(0, needH - g.inH - g.padTop);
  const padRight = Math.max(0, needW - g.inW - g.padLeft);
  if (!(g.padTop || g.padLeft || padBottom || padRight)) return { padded: x, inH: g.inH, inW: g.inW };
  if (x.dtype !== 'float32') throw new Error('oodkit SIMD kernels: expected float32 tensors');
  const inH = g.inH + g.padTop + padBottom;
  const inW = g.inW + g.padLeft + padRight;
  const padded = backend.makeOutput([g.batch, inH, inW, g.inC], 'float32');
  simdKernels(backend).pad_nhwc(
    heapOffset(backend, x),
    heapOffset(backend, padded),
    g.batch,
    g.inH,
    g.inW,
    g.inC,
    g.padTop,
    padBottom,
    g.padLeft,
    padRight,
  );
  return { padded, inH, inW };
}

/**
 * y = conv(x, w) (+ bias, then ReLU: the epilogue) with csrc/conv_forward.c's conv2d_forward: x is zero-padded
 * first (pad_nhwc) so the kernel never tests bounds; a filter whose output channels are
 * not a multiple of 4 is copied with zero columns; output rows are split between threads.
 */
export function conv2dForwardSimd(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
  epilogue: { bias?: TensorInfo; relu?: boolean } = {},
): TensorInfo {
  if (x.dtype !== 'float32' || filter.dtype !== 'float32') throw new Error('Conv2D on wasm: expected float32 tensors');
  const temps: TensorInfo[] = [];
  const { padded: input, inH, inW } = padForWindows(backend, x, g);
  if (input !== x) temps.push(input);
  const single = isSingleChannel(g);
  // The 1-channel kernel reads w/bias with an even column count, the general one with a multiple of 4.
  const coPad = single ? Math.ceil(g.outC / 2) * 2 : Math.ceil(g.outC / 4) * 4;
  let weights = filter;
  if (coPad !== g.outC) {
    const taps = g.kH * g.kW * g.inC;
    weights = allocate(backend, [taps, coPad], (out) => {
      const src = view(backend, filter);
      for (let t = 0; t < taps; t++) out.set(src.subarray(t * g.outC, (t + 1) * g.outC), t * coPad);
    });
    temps.push(weights);
  }
  let bias = epilogue.bias;
  if (bias && coPad !== g.outC) {
    const src = bias;
    bias = allocate(backend, [coPad], (out) => out.set(view(backend, src)));
    temps.push(bias);
  }
  const y = backend.makeOutput([g.batch, g.outH, g.outW, g.outC], 'float32');
  const rows = g.batch * g.outH;
  const parts = Math.min(kernelThreads(backend), rows);
  const range = (p: number) => [Math.round((p * rows) / parts), Math.round(((p + 1) * rows) / parts)];
  if (single) {
    const args = [
      heapOffset(backend, input),
      heapOffset(backend, weights),
      bias ? heapOffset(backend, bias) : 0,
      heapOffset(backend, y),
      inH,
      inW,
      g.outH,
      g.outW,
      g.outC,
      coPad,
      g.kH,
      g.kW,
      epilogue.relu ? 1 : 0,
    ];
    runShares(
      backend,
      'conv2d_forward_c1',
      Array.from({ length: parts }, (_, p) => [...args, ...range(p)]),
    );
    release(backend, ...temps);
    return y;
  }
  const common = [
    heapOffset(backend, input),
    heapOffset(backend, weights),
    bias ? heapOffset(backend, bias) : 0,
    heapOffset(backend, y),
    inH,
    inW,
    g.inC,
    g.outH,
    g.outW,
    g.outC,
    coPad,
    g.kH,
    g.kW,
    g.strideH,
    g.strideW,
    g.dilationH,
    g.dilationW,
    epilogue.relu ? 1 : 0,
  ];
  runShares(
    backend,
    'conv2d_forward',
    Array.from({ length: parts }, (_, p) => [...common, ...range(p)]),
  );
  release(backend, ...temps);
  return y;
}

/**
 * A dense-geometry conv (isDense) by oodkit's matmul: XNNPACK took 0.60 ms for LeNet's conv3 at
 * batch 128 (a 128×400×120 product), most of it per-call set-up.
 */
export function conv2dDense(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const taps = g.kH * g.kW * g.inC;
  const y = batchMatMulSimd(backend, { ...x, shape: [g.batch, taps] }, { ...filter, shape: [taps, g.outC] }, false, false);
  return { ...y, shape: [g.batch, 1, 1, g.outC] };
}
