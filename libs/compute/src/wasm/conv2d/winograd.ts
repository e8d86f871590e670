import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { tf } from '../../tf.js';
import type { ConvGeometry } from '../conv-geometry.js';
import { heapOffset, kernelThreads, runShares, simdKernels, withScratch } from '../simd.js';
import { release } from '../util.js';

type TensorInfo = tf.TensorInfo;

/**
 * How many tile ranges a Winograd filter gradient sums separately (then adds in order): a constant, not
 * the thread count, so the gradient's rounding is the same on any number of threads (a pool smaller
 * than this runs the ranges in rounds). Eight keeps up to eight threads busy.
 */
export const WINOGRAD_PARTIALS = 8;

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
 * Tiles per Winograd chunk. Each chunk re-reads the whole transformed filter (α²·Ci·Co floats), so the
 * chunk must be big enough that this stays below the chunk's own traffic (α²·chunk·(Ci + Co)), and
 * otherwise small enough for its buffers to stay in L2 (~1 MB): the deep 512-channel stage wants the
 * first (its filter is 16 MB), the wide early stages the second. Measured (F(2×2), two threads,
 * 4×4×512, batch 128): 60.1 ms cache-sized, 51.8 ms amortised.
 */
export function winogradChunk(g: ConvGeometry, tiles: number, kind: WinogradKind = 'f2'): number {
  const { alpha } = WINOGRAD[kind];
  const cacheSized = Math.floor((16384 * 16) / (alpha * alpha) / (g.inC + g.outC));
  const filterAmortised = Math.ceil((g.inC * g.outC) / (g.inC + g.outC));
  // ... but never so big that one of WINOGRAD_PARTIALS shares is left without tiles.
  return Math.max(8, Math.min(Math.max(cacheSized, filterAmortised), Math.ceil(tiles / WINOGRAD_PARTIALS)));
}

/**
 * The tiling the Winograd kernels share: x zero-padded so every output tile's input patch exists,
 * the tile count, the chunk size, how many threads take part in a forward call (`parts`: their outputs
 * are disjoint) and how many partial sums a filter gradient has (`partials`: fixed, see WINOGRAD_PARTIALS).
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
  const chunk = winogradChunk(g, tiles, kind);
  const parts = Math.min(kernelThreads(backend), Math.ceil(tiles / chunk));
  const partials = Math.min(WINOGRAD_PARTIALS, Math.ceil(tiles / chunk));
  return { padded, inH, inW, tiles, chunk, parts, partials, perThread: winogradScratchBytes(kind, chunk, g) };
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
