import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  initCompute,
  setConvBackpropRoutes,
  setConvForwardRoute,
  tf,
  type FilterRoute,
  type ForwardRoute,
  type InputRoute,
} from '../src/index.js';
import { onBackend, randomArray, relativeError } from './helpers.js';

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  batch: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: [number, number];
  stride: [number, number];
  pad: Pad;
  dilation: number;
}

const explicit = (t: number, b: number, l: number, r: number): Pad => [
  [0, 0],
  [t, b],
  [l, r],
  [0, 0],
];

/*
 * A sampled matrix: every stride {1,2,3}, padding kind {same, valid, number, explicit}, dilation {1,2},
 * batch {1,7}, odd sizes and channel counts, kernels 1..5 (odd and even, non-square) appear, and the
 * awkward corners (slack rows the stride skips, padding larger than the slack) are included.
 */
const CASES: Case[] = [
  { batch: 1, h: 9, w: 11, cin: 3, cout: 5, k: [3, 3], stride: [1, 1], pad: 'same', dilation: 1 },
  { batch: 7, h: 9, w: 7, cin: 5, cout: 3, k: [3, 3], stride: [2, 2], pad: 'same', dilation: 1 },
  { batch: 7, h: 11, w: 13, cin: 3, cout: 7, k: [3, 5], stride: [3, 3], pad: 'same', dilation: 1 },
  { batch: 1, h: 10, w: 9, cin: 1, cout: 6, k: [5, 5], stride: [1, 1], pad: 'valid', dilation: 1 },
  { batch: 7, h: 12, w: 11, cin: 3, cout: 5, k: [3, 3], stride: [2, 2], pad: 'valid', dilation: 1 },
  { batch: 1, h: 13, w: 14, cin: 5, cout: 3, k: [2, 4], stride: [3, 2], pad: 'valid', dilation: 1 },
  { batch: 7, h: 9, w: 9, cin: 3, cout: 5, k: [3, 3], stride: [1, 1], pad: 1, dilation: 1 },
  { batch: 1, h: 11, w: 9, cin: 7, cout: 3, k: [5, 3], stride: [2, 3], pad: 2, dilation: 1 },
  { batch: 7, h: 9, w: 11, cin: 3, cout: 5, k: [1, 1], stride: [2, 2], pad: 0, dilation: 1 },
  { batch: 1, h: 7, w: 9, cin: 3, cout: 5, k: [3, 3], stride: [1, 1], pad: explicit(0, 2, 1, 0), dilation: 1 },
  { batch: 7, h: 9, w: 8, cin: 5, cout: 3, k: [3, 2], stride: [3, 3], pad: explicit(2, 1, 0, 3), dilation: 1 },
  { batch: 1, h: 11, w: 11, cin: 3, cout: 5, k: [3, 3], stride: [1, 1], pad: 'same', dilation: 2 },
  { batch: 7, h: 13, w: 11, cin: 5, cout: 3, k: [3, 3], stride: [1, 1], pad: 'valid', dilation: 2 },
  { batch: 1, h: 9, w: 10, cin: 3, cout: 3, k: [2, 3], stride: [1, 1], pad: explicit(1, 3, 2, 0), dilation: 2 },
  { batch: 7, h: 13, w: 11, cin: 3, cout: 5, k: [3, 3], stride: [2, 2], pad: 'same', dilation: 2 },
  { batch: 1, h: 8, w: 8, cin: 4, cout: 2, k: [3, 3], stride: [2, 2], pad: 3, dilation: 1 },
  // Channel counts that fill the SIMD filter-gradient tiles (4 in × 8 out) and their 4-wide,
  // 1-wide and scalar remainders.
  { batch: 7, h: 9, w: 11, cin: 8, cout: 16, k: [3, 3], stride: [1, 1], pad: 'same', dilation: 1 },
  { batch: 1, h: 10, w: 9, cin: 12, cout: 20, k: [3, 3], stride: [2, 2], pad: 1, dilation: 1 },
  { batch: 7, h: 11, w: 13, cin: 6, cout: 13, k: [3, 5], stride: [3, 2], pad: explicit(2, 0, 1, 3), dilation: 2 },
  { batch: 7, h: 14, w: 14, cin: 1, cout: 6, k: [5, 5], stride: [1, 1], pad: 2, dilation: 1 },
  // One input channel, stride 1: the pixel-vectorised forward kernel (8-, 4- and 1-pixel tiles, an odd
  // channel count padded to even, more than one 6-channel group).
  { batch: 3, h: 9, w: 13, cin: 1, cout: 5, k: [3, 2], stride: [1, 1], pad: 'same', dilation: 1 },
  { batch: 2, h: 7, w: 21, cin: 1, cout: 14, k: [2, 3], stride: [1, 1], pad: explicit(1, 0, 2, 1), dilation: 1 },
  // Winograd F(2×2, 3×3) fits: odd and even output sizes (edge tiles), valid and asymmetric padding.
  { batch: 2, h: 6, w: 7, cin: 12, cout: 20, k: [3, 3], stride: [1, 1], pad: 'valid', dilation: 1 },
  { batch: 3, h: 10, w: 9, cin: 16, cout: 8, k: [3, 3], stride: [1, 1], pad: explicit(2, 0, 0, 1), dilation: 1 },
  // The stride-2 Winograd split: odd sizes, 'same' padding (extra row/column at the bottom/right),
  // explicit padding; and one whose last input row is below every patch, which falls to the direct kernel.
  { batch: 3, h: 9, w: 12, cin: 8, cout: 12, k: [3, 3], stride: [2, 2], pad: 'same', dilation: 1 },
  { batch: 2, h: 11, w: 10, cin: 4, cout: 8, k: [3, 3], stride: [2, 2], pad: explicit(1, 1, 2, 0), dilation: 1 },
  { batch: 2, h: 10, w: 11, cin: 8, cout: 4, k: [3, 3], stride: [2, 2], pad: 'valid', dilation: 1 },
  // One window over the whole input: a dense layer ('auto' runs it as a matmul), as LeNet's conv3.
  { batch: 7, h: 5, w: 5, cin: 16, cout: 12, k: [5, 5], stride: [1, 1], pad: 'valid', dilation: 1 },
  { batch: 1, h: 3, w: 3, cin: 5, cout: 3, k: [3, 3], stride: [2, 2], pad: 0, dilation: 1 },
  // Enough filter-plane entries (Ci·Co ≥ 8192) for the Winograd filter transforms to split over threads.
  { batch: 2, h: 5, w: 6, cin: 64, cout: 132, k: [3, 3], stride: [1, 1], pad: 'same', dilation: 1 },
];

const label = (c: Case) =>
  `b${c.batch} ${c.h}x${c.w}x${c.cin}→${c.cout} k${c.k.join('x')} s${c.stride.join(',')} pad=${JSON.stringify(c.pad)} d${c.dilation}`;

/** Inserts (d−1) zeros between filter taps: a conv with it equals the dilated conv (reference side). */
function dilateFilter(w: tf.Tensor4D, d: number): tf.Tensor4D {
  if (d === 1) return w;
  const [kh, kw, ci, co] = w.shape;
  const rows = tf.stack(
    Array.from({ length: (kh - 1) * d + 1 }, (_, y) =>
      tf.stack(
        Array.from({ length: (kw - 1) * d + 1 }, (_, x) =>
          y % d === 0 && x % d === 0 ? w.slice([y / d, x / d, 0, 0], [1, 1, ci, co]).reshape([ci, co]) : tf.zeros([ci, co]),
        ),
      ),
    ),
  );
  return rows as tf.Tensor4D;
}

function outSize(c: Case): [number, number] {
  const info = tf.backend_util.computeConv2DInfo(
    [c.batch, c.h, c.w, c.cin],
    [c.k[0], c.k[1], c.cin, c.cout],
    c.stride,
    c.dilation,
    c.pad as 'same',
  );
  return [info.outHeight, info.outWidth];
}

beforeAll(async () => {
  await initCompute({ backend: 'wasm', env: {} });
});

afterAll(() => {
  setConvBackpropRoutes({ filter: 'auto', input: 'auto' });
  setConvForwardRoute('auto');
});

// The forward convolution: oodkit's SIMD kernel (4-pixel × 8-channel tiles with 1-pixel and partial-
// channel remainders), its Winograd F(2×2, 3×3), F(4×4, 3×3) and stride-2 kernels (cases they do not fit
// fall to the direct one) and XNNPACK, forced in turn, plus 'auto' (which also runs dense-geometry convs
// as a matmul), against cpu with the dilation built into the filter.
describe.each(['auto', 'simd', 'winograd', 'winograd4', 'xnnpack'] as ForwardRoute[])('wasm Conv2D (%s route) agrees with cpu', (route) => {
  for (const c of CASES) {
    it(label(c), async () => {
      setConvForwardRoute(route);
      // (A forced 'xnnpack' still sends the geometry XNNPACK gets wrong to our kernel; see xnnpackAgrees.)
      const x = { values: randomArray(c.batch * c.h * c.w * c.cin, `fx ${label(c)}`), shape: [c.batch, c.h, c.w, c.cin] };
      const w = { values: randomArray(c.k[0] * c.k[1] * c.cin * c.cout, `fw ${label(c)}`), shape: [c.k[0], c.k[1], c.cin, c.cout] };
      const before = tf.memory().numTensors;
      // The kernel directly: the tf.conv2d op refuses strides and dilations both > 1, and rounds
      // numeric padding that does not divide evenly differently from the kernels' own geometry.
      const conv = (xt: tf.Tensor, wt: tf.Tensor, dilations: number) =>
        tf.engine().runKernel('Conv2D', { x: xt, filter: wt }, {
          strides: c.stride,
          pad: c.pad,
          dataFormat: 'NHWC',
          dilations,
          dimRoundingMode: 'floor',
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const [yWasm] = await onBackend('wasm', [x, w], (xt, wt) => conv(xt!, wt!, c.dilation));
      expect(tf.memory().numTensors).toBe(before);
      const [yCpu] = await onBackend('cpu', [x, w], (xt, wt) => conv(xt!, dilateFilter(wt as tf.Tensor4D, c.dilation), 1));
      expect(yWasm!.shape).toEqual(yCpu!.shape);
      // F(4×4, 3×3)'s transforms have coefficients up to 8 (F(2×2)'s: 1): ~10× the rounding error.
      expect(relativeError(yWasm!.data, yCpu!.data)).toBeLessThan(route === 'winograd4' || route === 'auto' ? 5e-5 : 1e-5);
    });
  }
});

// tfjs's numeric-padding geometry applies the filter height to the width too, so a 3×2 filter on a
// 3×2 input gives a 0-wide output: every kernel must return the right (empty / zero) shapes instead of
// dividing by the empty size inside a wasm kernel (a trap on a pool worker).
describe('wasm convolutions with an empty output', () => {
  it('Conv2D, FusedConv2D and both gradients return empty / zero results of the right shapes', async () => {
    const attrs = { strides: [2, 2], pad: 0, dataFormat: 'NHWC', dilations: 1, dimRoundingMode: 'floor' };
    const [y, fused, dw, dx] = await onBackend(
      'wasm',
      [
        { values: randomArray(30, 'empty x'), shape: [1, 3, 2, 5] },
        { values: randomArray(90, 'empty w'), shape: [3, 2, 5, 3] },
      ],
      (x, w) => [
        tf.engine().runKernel('Conv2D', { x: x!, filter: w! }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor,
        tf
          .engine()
          .runKernel('FusedConv2D', { x: x!, filter: w! }, { ...attrs, activation: 'relu' } as unknown as tf.NamedAttrMap) as tf.Tensor,
        tf.engine().runKernel('Conv2DBackpropFilter', { x: x!, dy: tf.zeros([1, 1, 0, 3]) }, {
          ...attrs,
          filterShape: [3, 2, 5, 3],
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
        tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.zeros([1, 1, 0, 3]), filter: w! }, {
          ...attrs,
          inputShape: [1, 3, 2, 5],
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      ],
    );
    expect(y!.shape).toEqual([1, 1, 0, 3]);
    expect(fused!.shape).toEqual([1, 1, 0, 3]);
    expect(dw!.shape).toEqual([3, 2, 5, 3]);
    expect(dx!.shape).toEqual([1, 3, 2, 5]);
    expect([...dw!.data, ...dx!.data].every((v) => v === 0)).toBe(true);
  });
});

// compute.conv_algorithms: 'auto' takes F(4×4, 3×3) for a layer with enough tiles when 'fastest', and
// F(2×2, 3×3) (the ~1e-6 algorithm) for the same layer when 'accurate' — bit for bit the forced routes.
describe("compute.conv_algorithms steers 'auto'", () => {
  // 24·4·4 = 384 F(4×4) tiles: enough for 'auto' on up to 8 threads.
  const x = { values: randomArray(24 * 16 * 16 * 16, 'algo x'), shape: [24, 16, 16, 16] };
  const w = { values: randomArray(3 * 3 * 16 * 16, 'algo w'), shape: [3, 3, 16, 16] };
  const dy = { values: randomArray(24 * 16 * 16 * 16, 'algo dy'), shape: [24, 16, 16, 16] };
  const withAlgorithms = async <T>(algorithms: 'fastest' | 'accurate', body: () => Promise<T>): Promise<T> => {
    await initCompute({ backend: 'wasm', env: {}, convAlgorithms: algorithms });
    try {
      return await body();
    } finally {
      await initCompute({ backend: 'wasm', env: {}, convAlgorithms: 'fastest' });
      setConvForwardRoute('auto');
      setConvBackpropRoutes({ filter: 'auto', input: 'auto' });
    }
  };

  it('forward: fastest → F(4×4) on a large layer, accurate → F(2×2)', async () => {
    const conv = (route: ForwardRoute, algorithms: 'fastest' | 'accurate') =>
      withAlgorithms(algorithms, async () => {
        setConvForwardRoute(route);
        const [y] = await onBackend('wasm', [x, w], (xt, wt) => tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, 1, 'same'));
        return y!.data;
      });
    const f4 = await conv('winograd4', 'fastest');
    const f2 = await conv('winograd', 'fastest');
    expect(f4).not.toEqual(f2); // the two algorithms round differently, so the checks below can tell them apart
    expect(await conv('auto', 'fastest')).toEqual(f4);
    expect(await conv('auto', 'accurate')).toEqual(f2);
  });

  it('filter gradient: the same rule', async () => {
    const grad = (route: FilterRoute, algorithms: 'fastest' | 'accurate') =>
      withAlgorithms(algorithms, async () => {
        setConvBackpropRoutes({ filter: route });
        const [dw] = await onBackend(
          'wasm',
          [x, dy],
          (xt, dyt) =>
            tf.engine().runKernel('Conv2DBackpropFilter', { x: xt!, dy: dyt! }, {
              strides: 1,
              pad: 'same',
              dataFormat: 'NHWC',
              dimRoundingMode: undefined,
              filterShape: w.shape,
            } as unknown as tf.NamedAttrMap) as tf.Tensor,
        );
        return dw!.data;
      });
    const f4 = await grad('winograd4', 'fastest');
    const f2 = await grad('winograd', 'fastest');
    expect(f4).not.toEqual(f2);
    expect(await grad('auto', 'fastest')).toEqual(f4);
    expect(await grad('auto', 'accurate')).toEqual(f2);
  });
});

// Every algorithm of each kernel (XNNPACK transposed/strided conv, GEMM with im2col/col2im, and the
// direct SIMD filter gradient) runs every case, whatever 'auto' would pick for it.
const ROUTES: { filter: FilterRoute; input: InputRoute }[] = [
  { filter: 'conv', input: 'conv' },
  { filter: 'gemm', input: 'gemm' },
  { filter: 'simd', input: 'auto' },
  { filter: 'winograd', input: 'auto' }, // stride 1: F(2×2, 3×3), stride 2: the split; else falls to 'simd'
  { filter: 'winograd4', input: 'winograd' }, // stride 1: F(4×4, 3×3), stride 2: the split (input: its adjoint); likewise
];
describe.each(ROUTES)('wasm Conv2DBackpropFilter ($filter) / Conv2DBackpropInput ($input) agree with cpu', (routes) => {
  for (const c of CASES) {
    it(label(c), async () => {
      setConvBackpropRoutes(routes);
      const [oh, ow] = outSize(c);
      const x = { values: randomArray(c.batch * c.h * c.w * c.cin, `x ${label(c)}`), shape: [c.batch, c.h, c.w, c.cin] };
      const w = { values: randomArray(c.k[0] * c.k[1] * c.cin * c.cout, `w ${label(c)}`), shape: [c.k[0], c.k[1], c.cin, c.cout] };
      const dy = { values: randomArray(c.batch * oh * ow * c.cout, `dy ${label(c)}`), shape: [c.batch, oh, ow, c.cout] };
      const attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
      const d = c.dilation;
      const effK = [(c.k[0] - 1) * d + 1, (c.k[1] - 1) * d + 1];

      const before = tf.memory().numTensors;
      const [dwWasm, dxWasm] = await onBackend('wasm', [x, w, dy], (xt, wt, dyt) => [
        tf.engine().runKernel('Conv2DBackpropFilter', { x: xt!, dy: dyt! }, {
          ...attrs,
          dilations: d,
          filterShape: wt!.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
        tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt!, filter: wt! }, {
          ...attrs,
          dilations: d,
          inputShape: xt!.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      ]);
      expect(tf.memory().numTensors).toBe(before);

      // Reference: the cpu kernels have no dilation attribute, so dilation goes into the filter.
      const [dwCpu, dxCpu] = await onBackend('cpu', [x, w, dy], (xt, wt, dyt) => {
        const full = tf.engine().runKernel('Conv2DBackpropFilter', { x: xt!, dy: dyt! }, {
          ...attrs,
          filterShape: [effK[0], effK[1], c.cin, c.cout],
        } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
        const dw = tf.stridedSlice(full, [0, 0, 0, 0], full.shape, [d, d, 1, 1]);
        const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy: dyt!, filter: dilateFilter(wt as tf.Tensor4D, d) }, {
          ...attrs,
          inputShape: xt!.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
        return [dw, dx];
      });
      expect(dwWasm!.shape).toEqual(w.shape);
      expect(dxWasm!.shape).toEqual(x.shape);
      expect(relativeError(dwWasm!.data, dwCpu!.data)).toBeLessThan(1e-4);
      expect(relativeError(dxWasm!.data, dxCpu!.data)).toBeLessThan(1e-4);
    });
  }
});

interface DwCase {
  batch: number;
  h: number;
  w: number;
  c: number;
  m: number;
  k: [number, number];
  stride: [number, number];
  pad: Pad;
  dilation: number;
}

const DW_CASES: DwCase[] = [
  { batch: 1, h: 9, w: 11, c: 3, m: 1, k: [3, 3], stride: [1, 1], pad: 'same', dilation: 1 },
  { batch: 7, h: 9, w: 7, c: 5, m: 2, k: [3, 3], stride: [2, 2], pad: 'same', dilation: 1 },
  { batch: 1, h: 11, w: 13, c: 3, m: 3, k: [5, 3], stride: [3, 3], pad: 'valid', dilation: 1 },
  { batch: 7, h: 9, w: 9, c: 3, m: 1, k: [3, 3], stride: [1, 1], pad: 1, dilation: 2 },
  { batch: 1, h: 11, w: 10, c: 5, m: 2, k: [2, 3], stride: [1, 1], pad: explicit(1, 0, 2, 1), dilation: 2 },
  { batch: 7, h: 8, w: 9, c: 3, m: 1, k: [3, 3], stride: [2, 3], pad: explicit(0, 2, 1, 1), dilation: 1 },
];

describe('wasm DepthwiseConv2dNativeBackpropFilter / Input agree with cpu', () => {
  for (const c of DW_CASES) {
    const name = `b${c.batch} ${c.h}x${c.w}x${c.c}·${c.m} k${c.k.join('x')} s${c.stride.join(',')} pad=${JSON.stringify(c.pad)} d${c.dilation}`;
    it(name, async () => {
      const info = tf.backend_util.computeConv2DInfo(
        [c.batch, c.h, c.w, c.c],
        [c.k[0], c.k[1], c.c, c.m],
        c.stride,
        c.dilation,
        c.pad as 'same',
        undefined,
        true,
      );
      const x = { values: randomArray(c.batch * c.h * c.w * c.c, `x ${name}`), shape: [c.batch, c.h, c.w, c.c] };
      const w = { values: randomArray(c.k[0] * c.k[1] * c.c * c.m, `w ${name}`), shape: [c.k[0], c.k[1], c.c, c.m] };
      const dy = {
        values: randomArray(c.batch * info.outHeight * info.outWidth * c.c * c.m, `dy ${name}`),
        shape: [c.batch, info.outHeight, info.outWidth, c.c * c.m],
      };
      const attrs = { strides: c.stride, pad: c.pad, dilations: c.dilation, dimRoundingMode: undefined };
      const run = (xt: tf.Tensor, wt: tf.Tensor, dyt: tf.Tensor, filterShape: number[], dilations: number) => [
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: xt, dy: dyt }, {
          ...attrs,
          dilations,
          filterShape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor4D,
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dyt, filter: wt }, {
          ...attrs,
          dilations,
          inputShape: xt.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      ];
      const before = tf.memory().numTensors;
      const [dwWasm, dxWasm] = await onBackend('wasm', [x, w, dy], (a, b, d) => run(a!, b!, d!, w.shape, c.dilation));
      expect(tf.memory().numTensors).toBe(before);
      // Reference: the cpu depthwise backprops ignore dilations, so dilation goes into the filter.
      const dil = c.dilation;
      const effShape = [(c.k[0] - 1) * dil + 1, (c.k[1] - 1) * dil + 1, c.c, c.m];
      const [dwCpu, dxCpu] = await onBackend('cpu', [x, w, dy], (a, b, d) => {
        const [full, dx] = run(a!, dilateFilter(b as tf.Tensor4D, dil), d!, effShape, 1);
        return [tf.stridedSlice(full!, [0, 0, 0, 0], full!.shape, [dil, dil, 1, 1]), dx!];
      });
      expect(relativeError(dwWasm!.data, dwCpu!.data)).toBeLessThan(1e-4);
      expect(relativeError(dxWasm!.data, dxCpu!.data)).toBeLessThan(1e-4);
    });
  }
});

describe('wasm UnsortedSegmentSum agrees with cpu', () => {
  it('sums rows by segment id, dropping out-of-range ids', async () => {
    const x = { values: randomArray(6 * 4, 'segment x'), shape: [6, 4] };
    const ids = [2, 0, 2, -1, 5, 1];
    const runOn = async (backend: 'wasm' | 'cpu') => {
      await tf.setBackend(backend);
      return tf.tidy(() => tf.unsortedSegmentSum(tf.tensor(x.values, x.shape), tf.tensor1d(ids, 'int32'), 4).dataSync());
    };
    const a = await runOn('wasm');
    const b = await runOn('cpu');
    expect(relativeError(a, b)).toBeLessThan(1e-6);
    // Row 2 of the output is the sum of input rows 0 and 2 (hand check, independent of cpu).
    for (let e = 0; e < 4; e++) expect(a[2 * 4 + e]).toBeCloseTo(x.values[e]! + x.values[2 * 4 + e]!, 5);
  });
});

describe('wasm FusedConv2D (bias + linear/ReLU epilogue) agrees with conv + bias + relu on cpu', () => {
  const cases = [
    { shape: [2, 9, 11, 16], k: 3, cout: 20, stride: 1, pad: 'same' as const, activation: 'relu' as const },
    { shape: [3, 8, 8, 16], k: 3, cout: 6, stride: 2, pad: 'valid' as const, activation: 'linear' as const },
    { shape: [2, 10, 9, 16], k: 3, cout: 12, stride: 2, pad: 'same' as const, activation: 'relu' as const },
    { shape: [1, 12, 12, 32], k: 1, cout: 8, stride: 1, pad: 'valid' as const, activation: 'relu' as const },
    { shape: [2, 9, 11, 1], k: 3, cout: 7, stride: 1, pad: 'same' as const, activation: 'relu' as const },
  ];
  for (const c of cases) {
    for (const route of ['simd', 'winograd', 'winograd4', 'xnnpack'] as ForwardRoute[]) {
      it(`${route}: [${c.shape}] k${c.k} → ${c.cout}, stride ${c.stride}, ${c.pad}, ${c.activation}`, async () => {
        setConvForwardRoute(route);
        const x = { values: randomArray(tf.util.sizeFromShape(c.shape), `fc x ${c.shape}`), shape: c.shape };
        const w = { values: randomArray(c.k * c.k * c.shape[3]! * c.cout, `fc w ${c.shape}`), shape: [c.k, c.k, c.shape[3]!, c.cout] };
        const b = { values: randomArray(c.cout, `fc b ${c.shape}`), shape: [c.cout] };
        const [yWasm] = await onBackend('wasm', [x, w, b], (xt, wt, bt) =>
          tf.fused.conv2d({
            x: xt as tf.Tensor4D,
            filter: wt as tf.Tensor4D,
            strides: c.stride,
            pad: c.pad,
            bias: bt,
            activation: c.activation,
          }),
        );
        const [yCpu] = await onBackend('cpu', [x, w, b], (xt, wt, bt) => {
          const y = tf.add(tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, c.stride, c.pad), bt!);
          return c.activation === 'relu' ? tf.relu(y) : y;
        });
        expect(relativeError(yWasm!.data, yCpu!.data)).toBeLessThan(1e-5);
      });
    }
  }
});
