import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { convGeometry, type ConvGeometry } from './conv-geometry.js';
import { batchMatMulSimd } from './batch-mat-mul.js';
import { heapOffset, kernelThreads, runShares, simdKernels, withScratch } from './simd.js';
import { allocate, assertChannelsLast, captureWasmKernels, release, run, view } from './util.js';

type TensorInfo = tf.TensorInfo;

/** Which implementation runs forward convolutions on wasm ('auto' picks per layer). */
export type ForwardRoute = 'auto' | 'simd' | 'winograd' | 'winograd4' | 'xnnpack';
let forwardRoute: ForwardRoute = 'auto';

/** Forces the forward-convolution implementation (tests and benchmarks); returns the previous one. */
export function setConvForwardRoute(next: ForwardRoute): ForwardRoute {
  const previous = forwardRoute;
  forwardRoute = next;
  return previous;
}

/**
 * Which algorithms 'auto' may pick: 'fastest' includes Winograd F(4×4, 3×3) (~1e-5 relative error
 * against a direct fp32 convolution); 'accurate' keeps to algorithms within ~1e-6 (direct, F(2×2, 3×3)
 * and the stride-2 split, whose transforms only add and subtract).
 */
export const CONV_ALGORITHM_NAMES = ['fastest', 'accurate'] as const;
export type ConvAlgorithms = (typeof CONV_ALGORITHM_NAMES)[number];
let convAlgorithms: ConvAlgorithms = 'fastest';

/** Sets what 'auto' may pick (config `compute.conv_algorithms`); returns the previous setting. */
export function setConvAlgorithms(next: ConvAlgorithms): ConvAlgorithms {
  const previous = convAlgorithms;
  convAlgorithms = next;
  return previous;
}

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

/** 3×3, stride 1, no dilation, channel counts in whole vectors: what the stride-1 Winograd kernels handle. */
export function winogradFits(g: ConvGeometry): boolean {
  return (
    g.kH === 3 &&
    g.kW === 3 &&
    g.strideH === 1 &&
    g.strideW === 1 &&
    g.dilationH === 1 &&
    g.dilationW === 1 &&
    g.inC % 4 === 0 &&
    g.outC % 4 === 0
  );
}

/**
 * The Winograd kernels (csrc/winograd_*.c): F(2×2, 3×3) and F(4×4, 3×3) for stride 1, and the
 * stride-2 split (2×2 output tiles whose 5×5 input patches start 4 apart). `alpha`: the input patch
 * side (α² products per output tile and channel pair); `step`: input rows between tiles; then the
 * kernel names: filter transform, forward conv, filter gradient (per-thread partials) and its finish.
 */
export const WINOGRAD = {
  f2: {
    out: 2,
    alpha: 4,
    step: 2,
    filter: 'winograd_filter',
    conv: 'winograd_conv',
    filterGrad: 'winograd_filter_grad',
    filterGradFinish: 'winograd_filter_grad_finish',
  },
  f4: {
    out: 4,
    alpha: 6,
    step: 4,
    filter: 'winograd4_filter',
    conv: 'winograd4_conv',
    filterGrad: 'winograd4_filter_grad',
    filterGradFinish: 'winograd4_filter_grad_finish',
  },
  s2: {
    out: 2,
    alpha: 5,
    step: 4,
    filter: 'winograd_s2_filter',
    conv: 'winograd_s2_conv',
    filterGrad: 'winograd_s2_filter_grad',
    filterGradFinish: 'winograd_s2_filter_grad_finish',
  },
} as const;
export type WinogradKind = keyof typeof WINOGRAD;

/** Rows (or columns) of padded input a Winograd kernel reads for `out` outputs. */
export const winogradSpan = (kind: WinogradKind, out: number) =>
  WINOGRAD[kind].step * (Math.ceil(out / WINOGRAD[kind].out) - 1) + WINOGRAD[kind].alpha;

/**
 * 3×3, stride 2, no dilation, channels in whole vectors, and no input row or column below/right of
 * the last patch (winograd_s2_conv's padded copy only adds rows): what winograd_s2_conv handles.
 */
export function winogradStride2Fits(g: ConvGeometry): boolean {
  return (
    g.kH === 3 &&
    g.kW === 3 &&
    g.strideH === 2 &&
    g.strideW === 2 &&
    g.dilationH === 1 &&
    g.dilationW === 1 &&
    g.inC % 4 === 0 &&
    g.outC % 4 === 0 &&
    g.padTop + g.inH <= winogradSpan('s2', g.outH) &&
    g.padLeft + g.inW <= winogradSpan('s2', g.outW)
  );
}

/**
 * Tiles per Winograd chunk. Each chunk re-reads the whole transformed filter (α²·Ci·Co floats), so the
 * chunk must be big enough that this stays below the chunk's own traffic (α²·chunk·(Ci + Co)), and
 * otherwise small enough for its buffers to stay in L2 (~1 MB): the deep 512-channel stage wants the
 * first (its filter is 16 MB), the wide early stages the second. Measured (F(2×2), two threads,
 * 4×4×512, batch 128): 60.1 ms cache-sized, 51.8 ms amortised.
 */
export function winogradChunk(g: ConvGeometry, tiles: number, threads: number, kind: WinogradKind = 'f2'): number {
  const { alpha } = WINOGRAD[kind];
  const cacheSized = Math.floor((16384 * 16) / (alpha * alpha) / (g.inC + g.outC));
  const filterAmortised = Math.ceil((g.inC * g.outC) / (g.inC + g.outC));
  // ... but never so big that a thread is left without tiles.
  return Math.max(8, Math.min(Math.max(cacheSized, filterAmortised), Math.ceil(tiles / threads)));
}

/**
 * The tiling the Winograd kernels share: x zero-padded so every output tile's input patch exists,
 * the tile count, the chunk size and how many threads take part.
 */
export function winogradTiling(backend: BackendWasm, x: TensorInfo, g: ConvGeometry, kind: WinogradKind = 'f2') {
  const { out } = WINOGRAD[kind];
  const inH = winogradSpan(kind, g.outH);
  const inW = winogradSpan(kind, g.outW);
  const padded = backend.makeOutput([g.batch, inH, inW, g.inC], 'float32');
  simdKernels(backend).pad_nhwc(
    heapOffset(backend, x),
    heapOffset(backend, padded),
    g.batch,
    g.inH,
    g.inW,
    g.inC,
    g.padTop,
    inH - g.inH - g.padTop,
    g.padLeft,
    inW - g.inW - g.padLeft,
  );
  const tiles = g.batch * Math.ceil(g.outH / out) * Math.ceil(g.outW / out);
  const chunk = winogradChunk(g, tiles, kernelThreads(backend), kind);
  const parts = Math.min(kernelThreads(backend), Math.ceil(tiles / chunk));
  return { padded, inH, inW, tiles, chunk, parts, perThread: winogradScratchBytes(kind, chunk, g) };
}

/**
 * Bytes of chunk buffers per thread: α² planes each of the input-side and output-side transforms, a
 * cache line apart (PLANE in csrc/kernels.h), and α² vectors for a tile's half-transformed values.
 */
export function winogradScratchBytes(kind: WinogradKind, chunk: number, g: ConvGeometry): number {
  const { alpha } = WINOGRAD[kind];
  return 4 * alpha * alpha * (chunk * (g.inC + g.outC) + 32 + 4);
}

/**
 * Splits the Ci·Co filter-plane entries (a multiple of 16: channel counts are multiples of 4) into
 * one range of whole vectors per thread, for the per-entry filter transforms.
 */
export function planeShares(backend: BackendWasm, g: ConvGeometry): [number, number][] {
  const vectors = (g.inC * g.outC) / 4;
  const parts = Math.max(1, Math.min(kernelThreads(backend), Math.floor(vectors / 1024)));
  return Array.from({ length: parts }, (_, p) => [4 * Math.round((p * vectors) / parts), 4 * Math.round(((p + 1) * vectors) / parts)]);
}

/**
 * y = conv3×3(x) (+ bias, ReLU) by a Winograd kernel (csrc/winograd_*.c): the filter is transformed
 * once per call (split over threads), x padded so every output tile's input patch exists, and tiles
 * are split over the kernel pool, each thread with its own cache-sized chunk buffers.
 */
export function conv2dWinograd(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
  epilogue: { bias?: TensorInfo; relu?: boolean } = {},
  kind: WinogradKind = 'f2',
): TensorInfo {
  if (x.dtype !== 'float32' || filter.dtype !== 'float32') throw new Error('Conv2D on wasm: expected float32 tensors');
  const { padded, inH, inW, tiles, chunk, parts, perThread } = winogradTiling(backend, x, g, kind);
  const { alpha, filter: filterKernel, conv } = WINOGRAD[kind];
  const u = backend.makeOutput([alpha * alpha, g.inC, g.outC], 'float32');
  runShares(
    backend,
    filterKernel,
    planeShares(backend, g).map(([begin, end]) => [heapOffset(backend, filter), heapOffset(backend, u), g.inC, g.outC, begin, end]),
  );
  const y = backend.makeOutput([g.batch, g.outH, g.outW, g.outC], 'float32');
  withScratch(backend, parts * perThread, (scratch) => {
    const common = [
      heapOffset(backend, padded),
      heapOffset(backend, u),
      epilogue.bias ? heapOffset(backend, epilogue.bias) : 0,
      heapOffset(backend, y),
      inH,
      inW,
      g.inC,
      g.outH,
      g.outW,
      g.outC,
      epilogue.relu ? 1 : 0,
    ];
    const shares = Array.from({ length: parts }, (_, p) => [
      ...common,
      Math.round((p * tiles) / parts),
      Math.round(((p + 1) * tiles) / parts),
      chunk,
      scratch + p * perThread,
    ]);
    runShares(backend, conv, shares);
  });
  release(backend, padded, u);
  return y;
}

/**
 * F(4×4, 3×3) needs ~44 % fewer products than F(2×2, 3×3) but transforms a filter 2.25× as large once
 * per call and re-reads it per chunk, so it pays only with enough tiles per thread: measured on the
 * ResNet stages (BENCHMARKS.md), it won from ~48 of its 4×4 tiles per thread up (on one and on two
 * threads, whatever the channel count) and lost below ~32 (the 4×4×512 stage at batch 32).
 */
export function stride1Kind(backend: BackendWasm, g: ConvGeometry): 'f2' | 'f4' {
  if (convAlgorithms === 'accurate') return 'f2';
  const tiles4 = g.batch * Math.ceil(g.outH / 4) * Math.ceil(g.outW / 4);
  return tiles4 >= 48 * kernelThreads(backend) ? 'f4' : 'f2';
}

/**
 * The stride-2 kernel beat the direct one on every ResNet stride-2 layer from 64 tiles per thread up
 * (e.g. 16×16×128→256 at batch 128: 35.6 vs 65.2 ms) and lost with 16 (BENCHMARKS.md).
 */
export function stride2Pays(backend: BackendWasm, g: ConvGeometry): boolean {
  return g.batch * Math.ceil(g.outH / 2) * Math.ceil(g.outW / 2) >= 32 * kernelThreads(backend);
}

type Route = { name: 'winograd'; kind: WinogradKind } | { name: 'simd' | 'xnnpack' | 'dense' };

/**
 * One window covering the whole unpadded input (LeNet's conv3: 5×5 filter on a 5×5 map): the conv is
 * a dense layer, y[b, :] = x[b, :]·w with w read as [kH·kW·Ci, Co].
 */
export function isDense(g: ConvGeometry): boolean {
  return (
    g.outH === 1 &&
    g.outW === 1 &&
    g.kH === g.inH &&
    g.kW === g.inW &&
    g.dilationH === 1 &&
    g.dilationW === 1 &&
    g.padTop === 0 &&
    g.padBottom === 0 &&
    g.padLeft === 0 &&
    g.padRight === 0
  );
}

/**
 * The route a forward convolution takes. Forced 'winograd' / 'winograd4' take F(2×2) / F(4×4) for
 * stride 1 and both the stride-2 kernel where those fit, else the direct kernel; 'auto' takes
 * Winograd for layers of at least 16 channels each side (see stride1Kind), else useSimd's rule.
 */
function forwardRouteFor(backend: BackendWasm, g: ConvGeometry): Route {
  const forced = forwardRoute === 'winograd' || forwardRoute === 'winograd4';
  if (forced || (forwardRoute === 'auto' && g.inC >= 16 && g.outC >= 16)) {
    if (winogradFits(g)) return { name: 'winograd', kind: forced ? (forwardRoute === 'winograd4' ? 'f4' : 'f2') : stride1Kind(backend, g) };
    if (winogradStride2Fits(g) && (forced || stride2Pays(backend, g))) return { name: 'winograd', kind: 's2' };
    if (forced) return { name: 'simd' };
  }
  if (forwardRoute === 'auto' && isDense(g)) return { name: 'dense' };
  return { name: useSimd(backend, g) ? 'simd' : 'xnnpack' };
}

/**
 * A dense-geometry conv (isDense) by oodkit's matmul: XNNPACK took 0.60 ms for LeNet's conv3 at
 * batch 128 (a 128×400×120 product), most of it per-call set-up.
 */
function conv2dDense(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const taps = g.kH * g.kW * g.inC;
  const y = batchMatMulSimd(backend, { ...x, shape: [g.batch, taps] }, { ...filter, shape: [taps, g.outC] }, false, false);
  return { ...y, shape: [g.batch, 1, 1, g.outC] };
}

/**
 * The direct kernel, measured per layer on one and two threads (BENCHMARKS.md, bench:conv-layers):
 * it beats XNNPACK everywhere except on outputs narrower than its 4-pixel tile, which XNNPACK runs as
 * packed GEMMs (the dense ones, such as LeNet's conv3, go to oodkit's matmul before this rule).
 */
function useSimd(backend: BackendWasm, g: ConvGeometry): boolean {
  if (forwardRoute === 'simd' || !xnnpackAgrees(g)) return true;
  if (forwardRoute === 'xnnpack') return false;
  return g.outW >= 4;
}

/** One input channel, stride 1, dilation 1: the layout conv2d_forward_c1 vectorises over pixels. */
function isSingleChannel(g: ConvGeometry): boolean {
  return g.inC === 1 && g.strideH === 1 && g.strideW === 1 && g.dilationH === 1 && g.dilationW === 1;
}

/**
 * Whether XNNPACK, given the explicit padding, produces tfjs's output size. It does not where tfjs's
 * numeric-padding geometry applies the filter height and row stride to the width too (non-square
 * kernels or strides): tfjs-backend-wasm then returns wrong values, so those go to our kernel.
 */
export function xnnpackAgrees(g: ConvGeometry): boolean {
  const size = (n: number, lo: number, hi: number, k: number, d: number, s: number) =>
    Math.floor((n + lo + hi - ((k - 1) * d + 1)) / s) + 1;
  return (
    size(g.inH, g.padTop, g.padBottom, g.kH, g.dilationH, g.strideH) === g.outH &&
    size(g.inW, g.padLeft, g.padRight, g.kW, g.dilationW, g.strideW) === g.outW
  );
}

/**
 * No output, or an empty input or filter (tfjs's geometry can give a 0-wide output): nothing to
 * compute, and the kernels would divide by the empty size. Empty inputs with a non-empty output
 * (Ci = 0) give zeros, as an empty sum.
 */
function isEmptyConv(x: TensorInfo, filter: TensorInfo, g: ConvGeometry): boolean {
  return g.batch * g.outH * g.outW * g.outC === 0 || x.shape.some((d) => d === 0) || filter.shape.some((d) => d === 0);
}

/**
 * A forward convolution on wasm by the selected route. `attrs` (the caller's own, when it has them)
 * go to XNNPACK unchanged, so its output shape is tfjs's even where tfjs's numeric-padding geometry
 * differs from the explicit padding it implies (it applies the filter height and row stride to
 * both dimensions); `g` comes from that same geometry, so the SIMD route agrees.
 */
export function conv2dForward(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
  attrs?: tf.NamedAttrMap,
): TensorInfo {
  if (isEmptyConv(x, filter, g)) return allocate(backend, [g.batch, g.outH, g.outW, g.outC]);
  const route = forwardRouteFor(backend, g);
  if (route.name === 'winograd') return conv2dWinograd(backend, x, filter, g, {}, route.kind);
  if (route.name === 'simd') return conv2dForwardSimd(backend, x, filter, g);
  if (route.name === 'dense') return conv2dDense(backend, x, filter, g);
  return run(
    captureWasmKernels().conv2d,
    backend,
    { x, filter },
    attrs ??
      ({
        strides: [g.strideH, g.strideW],
        dilations: [g.dilationH, g.dilationW],
        pad: [
          [0, 0],
          [g.padTop, g.padBottom],
          [g.padLeft, g.padRight],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dimRoundingMode: undefined,
      } as unknown as tf.NamedAttrMap),
  );
}

export const conv2dConfig: tf.KernelConfig = {
  kernelName: 'Conv2D',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as tf.Conv2DAttrs;
    assertChannelsLast('Conv2D', a.dataFormat);
    const g = convGeometry(x.shape, filter.shape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false);
    return conv2dForward(backend as BackendWasm, x, filter, g, attrs);
  },
};

/**
 * FusedConv2D (conv + bias + linear/ReLU, what inference with batch norm folded into the weights
 * runs) by the same per-layer choice, the epilogue fused into oodkit's kernel. Other activations
 * and PReLU go to the built-in kernel.
 */
export const fusedConv2dConfig: tf.KernelConfig = {
  kernelName: 'FusedConv2D',
  backendName: 'wasm',
  kernelFunc: (args) => {
    const { inputs, backend, attrs } = args;
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    const a = attrs as unknown as tf.Conv2DAttrs & { activation: string };
    assertChannelsLast('FusedConv2D', a.dataFormat);
    const g = convGeometry(x!.shape, filter!.shape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false);
    const plainBias = !bias || (bias.shape.length === 1 && bias.shape[0] === g.outC && bias.dtype === 'float32');
    if (isEmptyConv(x!, filter!, g)) return allocate(backend as BackendWasm, [g.batch, g.outH, g.outW, g.outC]);
    const route = forwardRouteFor(backend as BackendWasm, g);
    if (
      (a.activation === 'linear' || a.activation === 'relu') &&
      !preluActivationWeights &&
      plainBias &&
      (route.name === 'winograd' || route.name === 'simd')
    ) {
      const epilogue = { bias, relu: a.activation === 'relu' };
      return route.name === 'winograd'
        ? conv2dWinograd(backend as BackendWasm, x!, filter!, g, epilogue, route.kind)
        : conv2dForwardSimd(backend as BackendWasm, x!, filter!, g, epilogue);
    }
    return captureWasmKernels().fusedConv2d(args);
  },
};
