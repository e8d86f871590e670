import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { tf } from '../../tf.js';
import { convGeometry, type ConvGeometry } from '../conv-geometry.js';
import { allocate, assertChannelsLast, captureWasmKernels, run } from '../util.js';
import { conv2dDense, conv2dForwardSimd } from './direct.js';
import { forwardRouteFor, isEmptyConv } from './route.js';
import { conv2dWinograd } from './winograd.js';

/*
 * The tfjs kernel configs for Conv2D and FusedConv2D on wasm (as tfjs keeps one config per kernel):
 * geometry from the attributes, the route from route.ts, the work in direct.ts / winograd.ts.
 */

type TensorInfo = tf.TensorInfo;

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
  const route = forwardRouteFor(g);
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
    const route = forwardRouteFor(g);
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
