import { describe, expect, it } from 'vitest';
import { initCompute, tf } from '../src/index.js';
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
});
