import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { convGeometry } from './conv-geometry.js';
import { allocate, view } from './util.js';

type TensorInfo = tf.TensorInfo;

/*
 * Depthwise convolutions have no cross-channel reduction, so the XNNPACK forward-conv tricks used for
 * Conv2D would waste a factor C; direct loops over the heap are simple and memory-bound anyway.
 * Layout: x [B,H,W,C], filter [kH,kW,C,M], dy [B,Ho,Wo,C·M] with output channel c·M+m.
 */

interface DwAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: tf.Conv2DAttrs['pad'];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as DwAttrs & { filterShape: [number, number, number, number] };
    const wasm = backend as BackendWasm;
    const g = convGeometry(x.shape, a.filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, true);
    const [kH, kW, C, M] = a.filterShape;
    const out = allocate(wasm, [kH, kW, C, M]);
    const dw = view(wasm, out);
    const xs = view(wasm, x);
    const dys = view(wasm, dy);
    const CM = C * M;
    for (let b = 0; b < g.batch; b++) {
      for (let oy = 0; oy < g.outH; oy++) {
        for (let i = 0; i < kH; i++) {
          const y = oy * g.strideH + i * g.dilationH - g.padTop;
          if (y < 0 || y >= g.inH) continue;
          for (let ox = 0; ox < g.outW; ox++) {
            const dyBase = ((b * g.outH + oy) * g.outW + ox) * CM;
            for (let j = 0; j < kW; j++) {
              const xx = ox * g.strideW + j * g.dilationW - g.padLeft;
              if (xx < 0 || xx >= g.inW) continue;
              const xBase = ((b * g.inH + y) * g.inW + xx) * C;
              const wBase = (i * kW + j) * CM;
              for (let c = 0; c < C; c++) {
                const xv = xs[xBase + c]!;
                for (let m = 0; m < M; m++) dw[wBase + c * M + m]! += xv * dys[dyBase + c * M + m]!;
              }
            }
          }
        }
      }
    }
    return out;
  },
};

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as DwAttrs & { inputShape: [number, number, number, number] };
    const wasm = backend as BackendWasm;
    const g = convGeometry(a.inputShape, filter.shape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, true);
    const [kH, kW, C, M] = filter.shape as [number, number, number, number];
    const out = allocate(wasm, [...a.inputShape]);
    const dx = view(wasm, out);
    const ws = view(wasm, filter);
    const dys = view(wasm, dy);
    const CM = C * M;
    for (let b = 0; b < g.batch; b++) {
      for (let oy = 0; oy < g.outH; oy++) {
        for (let i = 0; i < kH; i++) {
          const y = oy * g.strideH + i * g.dilationH - g.padTop;
          if (y < 0 || y >= g.inH) continue;
          for (let ox = 0; ox < g.outW; ox++) {
            const dyBase = ((b * g.outH + oy) * g.outW + ox) * CM;
            for (let j = 0; j < kW; j++) {
              const xx = ox * g.strideW + j * g.dilationW - g.padLeft;
              if (xx < 0 || xx >= g.inW) continue;
              const xBase = ((b * g.inH + y) * g.inW + xx) * C;
              const wBase = (i * kW + j) * CM;
              for (let c = 0; c < C; c++) {
                let acc = 0;
                for (let m = 0; m < M; m++) acc += ws[wBase + c * M + m]! * dys[dyBase + c * M + m]!;
                dx[xBase + c]! += acc;
              }
            }
          }
        }
      }
    }
    return out;
  },
};
