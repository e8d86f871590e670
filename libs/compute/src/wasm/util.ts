import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';

type TensorInfo = tf.TensorInfo;
type NamedAttrMap = tf.NamedAttrMap;

/**
 * The forward kernels our training kernels are built from, captured once from the wasm kernel
 * registry. Captured (not looked up per call) because we re-register some names ourselves.
 */
export interface WasmKernels {
  conv2d: tf.KernelFunc;
  transpose: tf.KernelFunc;
  slice: tf.KernelFunc;
  batchMatMul: tf.KernelFunc;
  sum: tf.KernelFunc;
  fusedConv2d: tf.KernelFunc;
  identity: tf.KernelFunc;
}

let captured: WasmKernels | undefined;

export function captureWasmKernels(): WasmKernels {
  if (captured) return captured;
  const get = (name: string): tf.KernelFunc => {
    const config = tf.getKernel(name, 'wasm');
    if (!config) throw new Error(`wasm kernel '${name}' is not registered; is @tensorflow/tfjs-backend-wasm loaded?`);
    return config.kernelFunc;
  };
  captured = {
    conv2d: get('Conv2D'),
    transpose: get('Transpose'),
    slice: get('Slice'),
    batchMatMul: get('BatchMatMul'),
    sum: get('Sum'),
    fusedConv2d: get('FusedConv2D'),
    identity: get('Identity'),
  };
  return captured;
}

/** Runs a captured kernel function at backend level: no engine bookkeeping, no tape, no re-entrancy. */
export function run(fn: tf.KernelFunc, backend: BackendWasm, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): TensorInfo {
  const out = fn({ inputs, backend, attrs } as unknown as Parameters<tf.KernelFunc>[0]);
  if (Array.isArray(out)) throw new Error('expected a single output');
  return out as TensorInfo;
}

/** Frees a backend-level intermediate (refcounted: reshape-style outputs share data ids). */
export function release(backend: BackendWasm, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** A Float32Array view on a tensor's wasm heap memory (valid until the next allocation). */
export function view(backend: BackendWasm, info: TensorInfo): Float32Array {
  if (info.dtype !== 'float32') throw new Error(`expected a float32 tensor, got ${info.dtype}`);
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** A new float32 backend tensor filled by `fill` (given a zeroed heap view). */
export function allocate(backend: BackendWasm, shape: number[], fill?: (out: Float32Array) => void): TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  const data = view(backend, out);
  data.fill(0);
  fill?.(data);
  return out;
}

export function assertChannelsLast(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports only NHWC data, got dataFormat '${String(dataFormat)}'`);
  }
}

export type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

export function explicitPad(top: number, bottom: number, left: number, right: number): ExplicitPad {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

/** The same data seen with another shape (no copy; the caller must not release it separately). */
export function reshaped(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}
