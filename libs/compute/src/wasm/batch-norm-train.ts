import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD } from '../ops/fused-names.js';
import { channelScratchBytes, heapFloats, heapOffset, simdKernels, withScratch } from './simd.js';
import { view } from './util.js';

type TensorInfo = tf.TensorInfo;

interface Attrs {
  epsilon: number;
  relu: boolean;
}

function rowsAndChannels(x: TensorInfo): [number, number] {
  const c = x.shape[x.shape.length - 1]!;
  const n = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return [n, c];
}

function checkFloat(kernel: string, ...infos: TensorInfo[]): void {
  for (const info of infos) {
    if (info.dtype !== 'float32') throw new Error(`${kernel}: expected float32 tensors, got ${info.dtype}`);
  }
}

/**
 * Forward: mean and biased variance in two reductions (variance about the mean, not E[x²] − mean²),
 * then one pass y = x·scale + shift with scale = gamma/√(var + ε), shift = beta − mean·scale,
 * ReLU fused when asked. Outputs [y, mean, variance].
 */
export const batchNormTrainConfig: tf.KernelConfig = {
  kernelName: BATCH_NORM_TRAIN,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const { epsilon, relu } = attrs as unknown as Attrs;
    checkFloat(BATCH_NORM_TRAIN, x, gamma, beta);
    const wasm = backend as BackendWasm;
    const k = simdKernels(wasm);
    const [n, c] = rowsAndChannels(x);
    const y = wasm.makeOutput([...x.shape], 'float32');
    const mean = wasm.makeOutput([c], 'float32');
    const variance = wasm.makeOutput([c], 'float32');
    withScratch(wasm, channelScratchBytes(c) + 8 * c, (s) => {
      const scale = s + channelScratchBytes(c);
      const shift = scale + 4 * c;
      const px = heapOffset(wasm, x);
      const pMean = heapOffset(wasm, mean);
      const pVar = heapOffset(wasm, variance);
      k.col_sum(px, n, c, 1 / n, pMean, s);
      k.col_sqdev(px, pMean, n, c, 1 / n, pVar, s);
      const g = view(wasm, gamma);
      const b = view(wasm, beta);
      const m = view(wasm, mean);
      const v = view(wasm, variance);
      const heap = heapFloats(wasm, scale, 2 * c);
      for (let ch = 0; ch < c; ch++) {
        const sc = g[ch]! / Math.sqrt(v[ch]! + epsilon);
        heap[ch] = sc;
        heap[c + ch] = b[ch]! - m[ch]! * sc;
      }
      k.channel_affine(px, n, c, scale, shift, relu ? 1 : 0, heapOffset(wasm, y), s);
    });
    return [y, mean, variance];
  },
};

/**
 * Backward: one reduction pass (Σg, Σg·(x − mean), g = dy masked by the fused ReLU) and one pass
 * dx = a·g + b·(x − mean) + k with
 *   a = γσ⁻¹,  b = −γσ⁻³·Σg(x − mean)/n + 2·dvar/n,  k = −γσ⁻¹·Σg/n + dmean/n,
 * which is d/dx of y = γ(x − mean)σ⁻¹ + β with the batch statistics' own dependence on x, plus the
 * gradients that reach mean and variance directly. Outputs [dx, dgamma = σ⁻¹Σg(x − mean), dbeta = Σg].
 */
export const batchNormTrainGradConfig: tf.KernelConfig = {
  kernelName: BATCH_NORM_TRAIN_GRAD,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { dy, x, gamma, y, mean, variance, dmean, dvariance } = inputs as Record<string, TensorInfo>;
    const { epsilon, relu } = attrs as unknown as Attrs;
    checkFloat(BATCH_NORM_TRAIN_GRAD, dy!, x!, gamma!, y!, mean!, variance!, dmean!, dvariance!);
    const wasm = backend as BackendWasm;
    const k = simdKernels(wasm);
    const [n, c] = rowsAndChannels(x!);
    const dx = wasm.makeOutput([...x!.shape], 'float32');
    const dgamma = wasm.makeOutput([c], 'float32');
    const dbeta = wasm.makeOutput([c], 'float32');
    withScratch(wasm, channelScratchBytes(c) + 16 * c, (s) => {
      const sumGxc = s + channelScratchBytes(c);
      const pa = sumGxc + 4 * c;
      const pb = pa + 4 * c;
      const pk = pb + 4 * c;
      const mask = relu ? heapOffset(wasm, y!) : 0;
      const pDy = heapOffset(wasm, dy!);
      const px = heapOffset(wasm, x!);
      const pMean = heapOffset(wasm, mean!);
      k.bn_backward_sums(pDy, px, pMean, mask, n, c, heapOffset(wasm, dbeta), sumGxc, s);
      const heap = heapFloats(wasm, sumGxc, 4 * c);
      const g = view(wasm, gamma!);
      const v = view(wasm, variance!);
      const sumG = view(wasm, dbeta);
      const dg = view(wasm, dgamma);
      const dm = view(wasm, dmean!);
      const dv = view(wasm, dvariance!);
      for (let ch = 0; ch < c; ch++) {
        const inv = 1 / Math.sqrt(v[ch]! + epsilon);
        const s2 = heap[ch]!;
        dg[ch] = s2 * inv;
        heap[c + ch] = g[ch]! * inv;
        heap[2 * c + ch] = (-g[ch]! * inv * inv * inv * s2) / n + (2 * dv[ch]!) / n;
        heap[3 * c + ch] = (-g[ch]! * inv * sumG[ch]!) / n + dm[ch]! / n;
      }
      k.bn_backward_dx(pDy, px, pMean, mask, n, c, pa, pb, pk, heapOffset(wasm, dx), s);
    });
    return [dx, dgamma, dbeta];
  },
};
