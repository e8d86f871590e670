import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { BIAS_RELU, BIAS_RELU_GRAD } from '../ops/fused-names.js';
import { channelScratchBytes, heapOffset, simdKernels, withScratch } from './simd.js';

type TensorInfo = tf.TensorInfo;

/** y = max(x + bias, 0) over the last axis, one pass (tfjs would run a broadcast Add and a Relu). */
export const biasReluConfig: tf.KernelConfig = {
  kernelName: BIAS_RELU,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { x, bias } = inputs as { x: TensorInfo; bias: TensorInfo };
    if (x.dtype !== 'float32' || bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== x.shape[x.shape.length - 1])
      throw new Error(`${BIAS_RELU}: expected float32 x and a float32 bias of x's last dimension, got [${x.shape}] and [${bias.shape}]`);
    const wasm = backend as BackendWasm;
    const c = x.shape[x.shape.length - 1]!;
    const n = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const y = wasm.makeOutput([...x.shape], 'float32');
    withScratch(wasm, channelScratchBytes(c), (s) =>
      simdKernels(wasm).channel_affine(heapOffset(wasm, x), n, c, 0, heapOffset(wasm, bias), 1, heapOffset(wasm, y), s),
    );
    return y;
  },
};

/** dx = y > 0 ? dy : 0 and dbias = Σ dx over all but the last axis, in one pass. Outputs [dx, dbias]. */
export const biasReluGradConfig: tf.KernelConfig = {
  kernelName: BIAS_RELU_GRAD,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { dy, y } = inputs as { dy: TensorInfo; y: TensorInfo };
    const wasm = backend as BackendWasm;
    const c = y.shape[y.shape.length - 1]!;
    const n = y.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const dx = wasm.makeOutput([...y.shape], 'float32');
    const dbias = wasm.makeOutput([c], 'float32');
    withScratch(wasm, channelScratchBytes(c), (s) =>
      simdKernels(wasm).relu_backward_col_sum(
        heapOffset(wasm, dy),
        heapOffset(wasm, y),
        n,
        c,
        heapOffset(wasm, dx),
        heapOffset(wasm, dbias),
        s,
      ),
    );
    return [dx, dbias];
  },
};
