import { describe, expect, it } from 'vitest';
import { batchNormTrain, batchNormTrainComposite, biasRelu, initCompute, tf } from '../src/index.js';
import { onBackend, randomArray, relativeError } from './helpers.js';

// Its own file = its own process: the wasm backend starts here with one thread (the stock
// single-threaded build), which must compute what the cpu backend does.
describe('single-threaded wasm', () => {
  it('starts with 1 thread and trains a conv layer like cpu', async () => {
    const info = await initCompute({ backend: 'wasm', threads: 1, env: {} });
    expect(info.threads).toBe(1);
    const x = { values: randomArray(3 * 9 * 9 * 4, 'st x'), shape: [3, 9, 9, 4] };
    const w = { values: randomArray(3 * 3 * 4 * 5, 'st w'), shape: [3, 3, 4, 5] };
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 2, 'same'))))([a, b]);
    const onWasm = await onBackend('wasm', [x, w], (a, b) => f(a!, b!));
    const onCpu = await onBackend('cpu', [x, w], (a, b) => f(a!, b!));
    for (let i = 0; i < 2; i++) expect(relativeError(onWasm[i]!.data, onCpu[i]!.data)).toBeLessThan(1e-4);
  });

  it("runs oodkit's SIMD kernels on the unshared memory build (batch norm + ReLU, bias + ReLU, max-pool gradient)", async () => {
    await initCompute({ backend: 'wasm', threads: 1, env: {} });
    const memory = (tf.findBackend('wasm') as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer;
    expect(memory instanceof SharedArrayBuffer).toBe(false);
    const x = { values: randomArray(4 * 6 * 6 * 6, 'st bn x'), shape: [4, 6, 6, 6] };
    const b = { values: randomArray(6, 'st bn b'), shape: [6] };
    const f = (fused: boolean) => (a: tf.Tensor, c: tf.Tensor) =>
      tf.grads((p: tf.Tensor, q: tf.Tensor) => {
        const bn = fused
          ? batchNormTrain(p, q as tf.Tensor1D, q as tf.Tensor1D, 1e-5, { relu: true }).y
          : batchNormTrainComposite(p, q as tf.Tensor1D, q as tf.Tensor1D, 1e-5, true).y;
        const h = fused ? biasRelu(bn, q as tf.Tensor1D) : tf.relu(tf.add(bn, q));
        return tf.sum(tf.square(tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid')));
      })([a, c]);
    const onWasm = await onBackend('wasm', [x, b], (p, q) => f(true)(p!, q!));
    const onCpu = await onBackend('cpu', [x, b], (p, q) => f(false)(p!, q!));
    for (let i = 0; i < 2; i++) expect(relativeError(onWasm[i]!.data, onCpu[i]!.data)).toBeLessThan(1e-4);
  });
});
