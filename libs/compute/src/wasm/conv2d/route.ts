import type { tf } from '../../tf.js';
import type { ConvGeometry } from '../conv-geometry.js';
import { winogradSpan, type WinogradKind } from './winograd.js';

type TensorInfo = tf.TensorInfo;

/*
 * Which implementation a convolution takes. Every rule here is a function of the layer's geometry
 * and the configured settings only — never of the thread count, the machine's load or a timing —
 * because the algorithms round differently: the same seed must give the same weights on 1 thread, on
 * 16, and when the threaded build could not start (docs/decisions.md, "Determinism under load").
 */

/**
 * The per-thread thresholds below were measured on one and two threads (BENCHMARKS.md,
 * bench:conv-layers); they are applied as for two threads whatever the pool size.
 */
export const ROUTE_THREADS = 2;

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
 * F(4×4, 3×3) needs ~44 % fewer products than F(2×2, 3×3) but transforms a filter 2.25× as large once
 * per call and re-reads it per chunk, so it pays only with enough tiles per thread: measured on the
 * ResNet stages (BENCHMARKS.md), it won from ~48 of its 4×4 tiles per thread up (on one and on two
 * threads, whatever the channel count) and lost below ~32 (the 4×4×512 stage at batch 32).
 */
export function stride1Kind(g: ConvGeometry): 'f2' | 'f4' {
  if (convAlgorithms === 'accurate') return 'f2';
  const tiles4 = g.batch * Math.ceil(g.outH / 4) * Math.ceil(g.outW / 4);
  return tiles4 >= 48 * ROUTE_THREADS ? 'f4' : 'f2';
}

/**
 * The stride-2 kernel beat the direct one on every ResNet stride-2 layer from 64 tiles per thread up
 * (e.g. 16×16×128→256 at batch 128: 35.6 vs 65.2 ms) and lost with 16 (BENCHMARKS.md).
 */
export function stride2Pays(g: ConvGeometry): boolean {
  return g.batch * Math.ceil(g.outH / 2) * Math.ceil(g.outW / 2) >= 32 * ROUTE_THREADS;
}

export type Route = { name: 'winograd'; kind: WinogradKind } | { name: 'simd' | 'xnnpack' | 'dense' };

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
export function forwardRouteFor(g: ConvGeometry): Route {
  const forced = forwardRoute === 'winograd' || forwardRoute === 'winograd4';
  if (forced || (forwardRoute === 'auto' && g.inC >= 16 && g.outC >= 16)) {
    if (winogradFits(g)) return { name: 'winograd', kind: forced ? (forwardRoute === 'winograd4' ? 'f4' : 'f2') : stride1Kind(g) };
    if (winogradStride2Fits(g) && (forced || stride2Pays(g))) return { name: 'winograd', kind: 's2' };
    if (forced) return { name: 'simd' };
  }
  if (forwardRoute === 'auto' && isDense(g)) return { name: 'dense' };
  return { name: useSimd(g) ? 'simd' : 'xnnpack' };
}

/**
 * The direct kernel, measured per layer on one and two threads (BENCHMARKS.md, bench:conv-layers):
 * it beats XNNPACK everywhere except on outputs narrower than its 4-pixel tile, which XNNPACK runs as
 * packed GEMMs (the dense ones, such as LeNet's conv3, go to oodkit's matmul before this rule).
 */
function useSimd(g: ConvGeometry): boolean {
  if (forwardRoute === 'simd' || !xnnpackAgrees(g)) return true;
  if (forwardRoute === 'xnnpack') return false;
  return g.outW >= 4;
}

/** One input channel, stride 1, dilation 1: the layout conv2d_forward_c1 vectorises over pixels. */
export function isSingleChannel(g: ConvGeometry): boolean {
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
export function isEmptyConv(x: TensorInfo, filter: TensorInfo, g: ConvGeometry): boolean {
  return g.batch * g.outH * g.outW * g.outC === 0 || x.shape.some((d) => d === 0) || filter.shape.some((d) => d === 0);
}
