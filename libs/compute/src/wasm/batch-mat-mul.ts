import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { heapOffset, kernelThreads, runShares, simdKernels, withScratch } from './simd.js';
import { captureWasmKernels } from './util.js';

type TensorInfo = tf.TensorInfo;

/** Multiply-adds below which a product stays on one thread (a pool hand-off costs more). */
const PARALLEL_MACS = 1 << 18;

/**
 * c = op(a)·op(b) for 3-D float32 operands [batch, rows, cols] (batch 1 broadcasts), with
 * csrc/matmul.c's matmul: a transposed is read in place through its strides, b transposed is
 * copied once per batch entry into scratch. Rows are split over the kernel pool for large products.
 */
export function batchMatMulSimd(backend: BackendWasm, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const [batchA, a1, a2] = asBatches(a.shape);
  const [batchB, b1, b2] = asBatches(b.shape);
  const m = transposeA ? a2 : a1;
  const k = transposeA ? a1 : a2;
  const n = transposeB ? b1 : b2;
  if ((transposeB ? b2 : b1) !== k) throw new Error(`BatchMatMul: inner dimensions differ (${k} vs ${transposeB ? b2 : b1})`);
  const batch = Math.max(batchA, batchB);
  const lead = (batchA >= batchB ? a : b).shape.slice(0, -2);
  const out = backend.makeOutput([...lead, m, n], 'float32');
  const kernels = simdKernels(backend);
  const parts = m * n * k >= PARALLEL_MACS ? Math.min(kernelThreads(backend), Math.ceil(m / 4)) : 1;
  withScratch(backend, transposeB ? 4 * k * n : 0, (scratch) => {
    for (let i = 0; i < batch; i++) {
      const pa = heapOffset(backend, a) + 4 * (batchA === 1 ? 0 : i) * m * k;
      let pb = heapOffset(backend, b) + 4 * (batchB === 1 ? 0 : i) * k * n;
      if (transposeB) {
        kernels.transpose2d(pb, scratch, n, k);
        pb = scratch;
      }
      const pc = heapOffset(backend, out) + 4 * i * m * n;
      const [rs, cs] = transposeA ? [1, m] : [k, 1];
      const shares = Array.from({ length: parts }, (_, p) => {
        const lo = Math.round((p * m) / parts / 4) * 4;
        const hi = p === parts - 1 ? m : Math.round(((p + 1) * m) / parts / 4) * 4;
        return [pa, pb, pc, n, k, rs, cs, lo, hi];
      });
      runShares(backend, 'matmul', shares);
    }
  });
  return out;
}

/** [batch, rows, cols] of a rank ≥ 2 shape (leading axes flattened into the batch). */
function asBatches(shape: readonly number[]): [number, number, number] {
  const rank = shape.length;
  return [shape.slice(0, -2).reduce((x, y) => x * y, 1), shape[rank - 2]!, shape[rank - 1]!];
}

/**
 * BatchMatMul on wasm (tfjs hands it the operands' own ranks, 2-D for dense layers): float32 with
 * equal or single batches by oodkit's kernel, anything else (other dtypes, partial broadcasting of
 * batch axes) by the built-in one.
 */
export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  kernelFunc: (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const [batchA] = asBatches(a.shape);
    const [batchB] = asBatches(b.shape);
    const leadA = a.shape.slice(0, -2);
    const leadB = b.shape.slice(0, -2);
    const sameLead = leadA.length === leadB.length && leadA.every((d, i) => d === leadB[i]);
    const batchesOk = sameLead || (batchA === 1 && leadA.length <= leadB.length) || (batchB === 1 && leadB.length <= leadA.length);
    const plain = a.dtype === 'float32' && b.dtype === 'float32' && a.shape.length >= 2 && b.shape.length >= 2;
    if (!plain || !batchesOk) return captureWasmKernels().batchMatMul(args);
    return batchMatMulSimd(args.backend as BackendWasm, a, b, transposeA, transposeB);
  },
};
