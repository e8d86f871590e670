import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { backpropFilterGemm, backpropInputGemm } from './gemm-conv.js';
import { convGeometry, type ConvGeometry } from './conv-geometry.js';
import { padForWindows } from './conv2d/direct.js';
import { conv2dForward } from './conv2d/kernels.js';
import { stride1Kind, stride2Pays, winogradFits, winogradStride2Fits } from './conv2d/route.js';
import {
  planeShares,
  winogradChunk,
  winogradScratchBytes,
  winogradSpan,
  winogradTiling,
  WINOGRAD,
  type WinogradKind,
} from './conv2d/winograd.js';
export { convGeometry, type ConvGeometry } from './conv-geometry.js';
import { heapOffset, kernelThreads, runShares, simdKernels, withScratch } from './simd.js';
import { allocate, assertChannelsLast, captureWasmKernels, explicitPad, release, run, view } from './util.js';

type TensorInfo = tf.TensorInfo;

/**
 * dW[i,j,ci,co] = Σ_{b,oy,ox} xpad[b, s·oy + d·i, s·ox + d·j, ci] · dy[b,oy,ox,co].
 * That is a forward convolution of xᵀ = [Ci, H, W, B] (batch Ci, channels B) with the "filter"
 * dyᵀ = [Ho, Wo, B, Co], dilated by the forward stride and strided by the forward dilation, which
 * runs on XNNPACK's fast forward path. Rows/columns the forward pass never read (the slack when
 * the stride does not divide the padded size) are cut off by shrinking the bottom/right padding,
 * or by slicing x when that padding is smaller than the slack.
 */
export type ConvRoute = 'auto' | 'conv' | 'gemm';
/** The input gradient also has the stride-2 Winograd split ('winograd'; elsewhere as 'auto'). */
export type InputRoute = ConvRoute | 'winograd';
/** The filter gradient also has oodkit's direct SIMD kernel and Winograd F(2×2) / F(4×4) (3×3, stride 1). */
export type FilterRoute = ConvRoute | 'simd' | 'winograd' | 'winograd4';
const routes: { filter: FilterRoute; input: InputRoute } = { filter: 'auto', input: 'auto' };

/**
 * Forces the algorithm of the conv backprop kernels ('auto' picks per shape). For tests, which must
 * cover every route, and for benchmarking; returns the previous setting.
 */
export function setConvBackpropRoutes(next: Partial<typeof routes>): typeof routes {
  const previous = { ...routes };
  Object.assign(routes, next);
  return previous;
}

function inputRoute(g: ConvGeometry): 'conv' | 'gemm' | 'winograd_s2' {
  // Stride-2 3×3 layers: the adjoint of the forward pass's stride-2 split, 25 products per 2×2 dy
  // tile instead of 36, and no column buffer.
  const s2 = winogradStride2Fits(g);
  if (routes.input === 'winograd' && s2) return 'winograd_s2';
  if (routes.input === 'conv' || routes.input === 'gemm') return routes.input;
  if (s2 && g.inC >= 16 && g.outC >= 16 && stride2Pays(g)) return 'winograd_s2';
  // The transposed-conv route runs a forward conv over dy framed by (effective kernel − 1 − pad)
  // zeros on each side (and, at stride > 1, with zeros inserted between pixels); GEMM + col2im
  // does only the useful products but writes every column. Measured per layer (BENCHMARKS.md, both
  // with oodkit's kernels): the conv route wins at stride 1 while the frame adds at most half again
  // the area (ResNet's 3×3 stages: 34²/32²), GEMM wins on strided layers and on big frames around
  // small maps (LeNet's 5×5 convs: 18²/10², 9²/1²).
  if (g.strideH !== 1 || g.strideW !== 1) return 'gemm';
  // A 3×3 transposed conv runs as Winograd F(2×2, 3×3) (conv2d/winograd.ts), ~2× the direct kernel: it beats
  // GEMM whatever the frame.
  if (winogradFits({ ...g, inC: g.outC, outC: g.inC })) return 'conv';
  const effH = (g.kH - 1) * g.dilationH + 1;
  const effW = (g.kW - 1) * g.dilationW + 1;
  const framed = (g.outH + 2 * (effH - 1) - g.padTop - g.padBottom) * (g.outW + 2 * (effW - 1) - g.padLeft - g.padRight);
  return framed <= 1.5 * g.outH * g.outW ? 'conv' : 'gemm';
}

function filterRoute(g: ConvGeometry): 'conv' | 'gemm' | 'simd' | 'winograd' | 'winograd4' | 'winograd_s2' {
  // The direct SIMD kernel beat both XNNPACK-based routes on every layer measured (BENCHMARKS.md):
  // they pay for transposes, im2col copies, and packing an activation-sized operand as "weights".
  // Winograd beats it ~2× (F(2×2)) to ~3× (F(4×4)) on ResNet's 3×3 stride-1 layers; F(4×4) is
  // taken by the forward pass's rule (enough tiles, conv_algorithms 'fastest': stride1Kind).
  // Stride-2 3×3 layers have the forward pass's stride-2 split (25 products per 2×2 tile, not 36).
  if (routes.filter === 'winograd' || routes.filter === 'winograd4') {
    return winogradFits(g) ? routes.filter : winogradStride2Fits(g) ? 'winograd_s2' : 'simd';
  }
  if (routes.filter !== 'auto') return routes.filter;
  if (g.inC < 16 || g.outC < 16) return 'simd';
  if (winogradFits(g)) return stride1Kind(g) === 'f4' ? 'winograd4' : 'winograd';
  return winogradStride2Fits(g) && stride2Pays(g) ? 'winograd_s2' : 'simd';
}

export function conv2dBackpropFilterImpl(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): TensorInfo {
  const route = filterRoute(g);
  if (route === 'winograd' || route === 'winograd4' || route === 'winograd_s2') {
    return backpropFilterWinograd(backend, x, dy, g, route === 'winograd4' ? 'f4' : route === 'winograd_s2' ? 's2' : 'f2');
  }
  if (route === 'simd') return backpropFilterSimd(backend, x, dy, g);
  if (route === 'gemm') return backpropFilterGemm(backend, x, dy, g);
  return backpropFilterConv(backend, x, dy, g);
}

/**
 * Winograd filter gradient (F(2×2, 3×3), F(4×4, 3×3) or the stride-2 split; csrc/winograd_*.c): threads
 * take disjoint tile ranges and accumulate separate transformed partials, which one pass sums and maps
 * back with Gᵀ·dU·G.
 */
function backpropFilterWinograd(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: ConvGeometry, kind: WinogradKind): TensorInfo {
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error('Conv2DBackpropFilter on wasm: expected float32 tensors');
  // `partials` (not the thread count) fixes how the tile sums are grouped: same rounding on any pool.
  const { padded, inH, inW, tiles, chunk, partials: parts, perThread } = winogradTiling(backend, x, g, kind);
  const { alpha, filterGrad, filterGradFinish } = WINOGRAD[kind];
  const partial = alpha * alpha * g.inC * g.outC;
  const du = allocate(backend, [parts, partial]);
  const out = backend.makeOutput([3, 3, g.inC, g.outC], 'float32');
  withScratch(backend, parts * perThread, (scratch) => {
    const [px, pdy, pdu] = [heapOffset(backend, padded), heapOffset(backend, dy), heapOffset(backend, du)];
    const shares = Array.from({ length: parts }, (_, p) => [
      px,
      pdy,
      pdu + 4 * p * partial,
      inH,
      inW,
      g.inC,
      g.outH,
      g.outW,
      g.outC,
      Math.round((p * tiles) / parts),
      Math.round(((p + 1) * tiles) / parts),
      chunk,
      scratch + p * perThread,
    ]);
    runShares(backend, filterGrad, shares);
  });
  runShares(
    backend,
    filterGradFinish,
    planeShares(backend, g).map(([begin, end]) => [heapOffset(backend, du), parts, heapOffset(backend, out), g.inC, g.outC, begin, end]),
  );
  release(backend, padded, du);
  return out;
}

/** csrc/conv_filter_grad.c's conv2d_filter_grad: outer products straight from (padded) x and dy. */
function backpropFilterSimd(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): TensorInfo {
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error('Conv2DBackpropFilter on wasm: expected float32 tensors');
  const { padded, inH, inW } = padForWindows(backend, x, g);
  const out = backend.makeOutput([g.kH, g.kW, g.inC, g.outC], 'float32');
  const common = [
    heapOffset(backend, padded),
    heapOffset(backend, dy),
    heapOffset(backend, out),
    g.batch,
    inH,
    inW,
    g.inC,
    g.outH,
    g.outW,
    g.outC,
    g.kH,
    g.kW,
    g.strideH,
    g.strideW,
    g.dilationH,
    g.dilationW,
  ];
  // Threads take disjoint ranges of output channels, in whole 8-wide register tiles, or, when there
  // are fewer tiles than threads (LeNet's 6-channel conv1), disjoint ranges of filter rows.
  const threads = kernelThreads(backend);
  const tiles = Math.ceil(g.outC / 8);
  const shares: number[][] = [];
  const split = (n: number, parts: number, p: number) => Math.round((p * n) / parts);
  if (tiles >= threads || g.kH < 2) {
    const parts = Math.min(threads, tiles);
    for (let p = 0; p < parts; p++) {
      const begin = Math.min(g.outC, split(tiles, parts, p) * 8);
      const end = Math.min(g.outC, split(tiles, parts, p + 1) * 8);
      if (end > begin) shares.push([...common, begin, end, 0, g.kH]);
    }
  } else {
    const parts = Math.min(threads, g.kH);
    for (let p = 0; p < parts; p++) shares.push([...common, 0, g.outC, split(g.kH, parts, p), split(g.kH, parts, p + 1)]);
  }
  runShares(backend, 'conv2d_filter_grad', shares);
  if (padded !== x) release(backend, padded);
  return out;
}

function backpropFilterConv(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, g: ConvGeometry): TensorInfo {
  const k = captureWasmKernels();
  const spanH = (g.outH - 1) * g.strideH + (g.kH - 1) * g.dilationH + 1;
  const spanW = (g.outW - 1) * g.strideW + (g.kW - 1) * g.dilationW + 1;
  let padBottom = spanH - g.inH - g.padTop;
  let padRight = spanW - g.inW - g.padLeft;
  let input = x;
  const temps: TensorInfo[] = [];
  if (padBottom < 0 || padRight < 0) {
    // Only the top-left part of x that some output window reads takes part.
    const usedH = g.inH + Math.min(0, padBottom);
    const usedW = g.inW + Math.min(0, padRight);
    input = run(k.slice, backend, { x }, { begin: [0, 0, 0, 0], size: [g.batch, usedH, usedW, g.inC] });
    temps.push(input);
    padBottom = Math.max(0, padBottom);
    padRight = Math.max(0, padRight);
  }
  const xT = run(k.transpose, backend, { x: input }, { perm: [3, 1, 2, 0] });
  const dyT = run(k.transpose, backend, { x: dy }, { perm: [1, 2, 0, 3] });
  const dwT = run(k.conv2d, backend, { x: xT, filter: dyT }, {
    strides: [g.dilationH, g.dilationW],
    dilations: [g.strideH, g.strideW],
    pad: explicitPad(g.padTop, padBottom, g.padLeft, padRight),
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
  } as unknown as tf.NamedAttrMap);
  release(backend, xT, dyT, ...temps);
  const result = run(k.transpose, backend, { x: dwT }, { perm: [1, 2, 0, 3] });
  release(backend, dwT);
  return result;
}

/**
 * dx = the transposed convolution of dy: zero-insert dy by the stride, pad by (effective kernel − 1 −
 * forward pad) (plus the slack rows the forward pass skipped), and run a forward convolution with the
 * filter reversed in space and its in/out channels swapped. Stride 1 with non-negative padding needs
 * no copy of dy: the padding goes straight to XNNPACK.
 */
export function conv2dBackpropInputImpl(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const route = inputRoute(g);
  if (route === 'winograd_s2') return backpropInputWinogradS2(backend, dy, filter, g);
  if (route === 'gemm') return backpropInputGemm(backend, dy, filter, g);
  return backpropInputConv(backend, dy, filter, g);
}

/**
 * dx for a stride-2 3×3 conv by the adjoint of the stride-2 split (csrc/winograd_s2.c's
 * winograd_s2_input_grad): the channel-transposed filter is transformed, threads take whole images
 * (their 5×5 patches overlap inside an image) and accumulate into a zeroed, padded dx, which is then
 * cropped to the input's size.
 */
function backpropInputWinogradS2(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') throw new Error('Conv2DBackpropInput on wasm: expected float32 tensors');
  const k = simdKernels(backend);
  const transposed = backend.makeOutput([3, 3, g.outC, g.inC], 'float32');
  const [src, dst, tap] = [heapOffset(backend, filter), heapOffset(backend, transposed), 4 * g.inC * g.outC];
  for (let t = 0; t < 9; t++) k.transpose2d(src + t * tap, dst + t * tap, g.inC, g.outC);
  const ut = backend.makeOutput([25, g.outC, g.inC], 'float32');
  runShares(
    backend,
    WINOGRAD.s2.filter,
    planeShares(backend, g).map(([begin, end]) => [dst, heapOffset(backend, ut), g.outC, g.inC, begin, end]),
  );
  const [pH, pW] = [winogradSpan('s2', g.outH), winogradSpan('s2', g.outW)];
  const padded = allocate(backend, [g.batch, pH, pW, g.inC]);
  const perImage = Math.ceil(g.outH / 2) * Math.ceil(g.outW / 2);
  const chunk = winogradChunk(g, g.batch * perImage, 's2');
  const parts = Math.min(kernelThreads(backend), g.batch);
  const perThread = winogradScratchBytes('s2', chunk, g);
  withScratch(backend, parts * perThread, (scratch) => {
    const shares = Array.from({ length: parts }, (_, p) => [
      heapOffset(backend, dy),
      heapOffset(backend, ut),
      heapOffset(backend, padded),
      pH,
      pW,
      g.inC,
      g.outH,
      g.outW,
      g.outC,
      Math.round((p * g.batch) / parts) * perImage,
      Math.round(((p + 1) * g.batch) / parts) * perImage,
      chunk,
      scratch + p * perThread,
    ]);
    runShares(backend, 'winograd_s2_input_grad', shares);
  });
  const dx = backend.makeOutput([g.batch, g.inH, g.inW, g.inC], 'float32');
  k.crop_nhwc(heapOffset(backend, padded), heapOffset(backend, dx), g.batch, pH, pW, g.inC, g.padTop, g.padLeft, g.inH, g.inW);
  release(backend, transposed, ut, padded);
  return dx;
}

function backpropInputConv(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const effH = (g.kH - 1) * g.dilationH + 1;
  const effW = (g.kW - 1) * g.dilationW + 1;
  const slackH = g.inH + g.padTop + g.padBottom - effH - (g.outH - 1) * g.strideH;
  const slackW = g.inW + g.padLeft + g.padRight - effW - (g.outW - 1) * g.strideW;
  const top = effH - 1 - g.padTop;
  const bottom = effH - 1 - g.padBottom + slackH;
  const left = effW - 1 - g.padLeft;
  const right = effW - 1 - g.padRight + slackW;

  const flipped = flipFilter(backend, filter, g);
  const temps: TensorInfo[] = [flipped];
  let input = dy;
  let pad = explicitPad(top, bottom, left, right);
  if (g.strideH !== 1 || g.strideW !== 1 || top < 0 || bottom < 0 || left < 0 || right < 0) {
    input = spreadAndPad(backend, dy, g, top, bottom, left, right);
    temps.push(input);
    pad = explicitPad(0, 0, 0, 0);
  }
  const inner = convGeometry(input.shape, flipped.shape, 1, [g.dilationH, g.dilationW], pad, undefined, false);
  const dx = conv2dForward(backend, input, flipped, inner);
  release(backend, ...temps);
  return dx;
}

/** W'[i,j,co,ci] = W[kH−1−i, kW−1−j, ci, co]: one SIMD-kernel transpose per tap. */
function flipFilter(backend: BackendWasm, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const { kH, kW, inC, outC } = g;
  const out = backend.makeOutput([kH, kW, outC, inC], 'float32');
  const k = simdKernels(backend);
  const [src, dst, tap] = [heapOffset(backend, filter), heapOffset(backend, out), 4 * inC * outC];
  for (let i = 0; i < kH; i++) {
    for (let j = 0; j < kW; j++) k.transpose2d(src + ((kH - 1 - i) * kW + (kW - 1 - j)) * tap, dst + (i * kW + j) * tap, inC, outC);
  }
  return out;
}

/** dy with (stride−1) zeros between pixels and the given (possibly negative = cropping) padding. */
function spreadAndPad(
  backend: BackendWasm,
  dy: TensorInfo,
  g: ConvGeometry,
  top: number,
  bottom: number,
  left: number,
  right: number,
): TensorInfo {
  const { batch, outH, outW, outC, strideH, strideW } = g;
  const H = (outH - 1) * strideH + 1 + top + bottom;
  const W = (outW - 1) * strideW + 1 + left + right;
  const out = allocate(backend, [batch, H, W, outC]);
  const dst = view(backend, out);
  const src = view(backend, dy);
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const y = top + oy * strideH;
      if (y < 0 || y >= H) continue;
      for (let ox = 0; ox < outW; ox++) {
        const x = left + ox * strideW;
        if (x < 0 || x >= W) continue;
        const s = ((b * outH + oy) * outW + ox) * outC;
        dst.set(src.subarray(s, s + outC), ((b * H + y) * W + x) * outC);
      }
    }
  }
  return out;
}

const isEmpty = (shape: readonly number[]) => shape.some((d) => d === 0);

export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs & { dilations?: number | [number, number] };
    assertChannelsLast('Conv2DBackpropFilter', a.dataFormat);
    const g = convGeometry(x.shape, a.filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false);
    // An empty output (tfjs's geometry can give a 0-wide one) has no gradient; the kernels divide by its size.
    if (isEmpty(dy.shape) || isEmpty(x.shape)) return allocate(backend as BackendWasm, [...a.filterShape]);
    return conv2dBackpropFilterImpl(backend as BackendWasm, x, dy, g);
  },
};

export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as tf.Conv2DBackpropInputAttrs & { dilations?: number | [number, number] };
    assertChannelsLast('Conv2DBackpropInput', a.dataFormat);
    const g = convGeometry(a.inputShape, filter.shape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false);
    if (isEmpty(dy.shape) || isEmpty(filter.shape)) return allocate(backend as BackendWasm, [...a.inputShape]);
    return conv2dBackpropInputImpl(backend as BackendWasm, dy, filter, g);
  },
};
