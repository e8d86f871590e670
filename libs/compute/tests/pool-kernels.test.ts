import os from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '../src/index.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapFloats, heapOffset, kernelThreads, runShares } from '../src/wasm/simd.js';
import { onBackend, randomArray, relativeError } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm', env: {} });
});

const CASES = [
  { name: '2×2/2 valid (LeNet)', shape: [7, 10, 10, 3], size: 2, stride: 2, pad: 'valid' as const },
  { name: '3×3/2 same, odd size', shape: [1, 9, 11, 5], size: 3, stride: 2, pad: 'same' as const },
  { name: '3×3/1 same, overlapping windows', shape: [7, 7, 5, 3], size: 3, stride: 1, pad: 'same' as const },
  { name: '2×3/3 with explicit padding 1', shape: [1, 11, 13, 3], size: [2, 3] as [number, number], stride: 3, pad: 1 },
  { name: '2×2/2 with −∞ and NaN windows', shape: [2, 6, 6, 2], size: 2, stride: 2, pad: 'valid' as const, special: true },
  // Windows that cannot overlap, ≥ 4 channels: dx written by vector stores, the last vector overlapping.
  { name: '2×2/2 valid, 6 channels (LeNet conv1)', shape: [3, 8, 10, 6], size: 2, stride: 2, pad: 'valid' as const },
  { name: '2×2/3 same, 9 channels, −∞ and NaN', shape: [2, 7, 8, 9], size: 2, stride: 3, pad: 'same' as const, special: true },
];

describe('wasm MaxPoolGrad agrees with cpu, ties included', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const size = tf.util.sizeFromShape(c.shape);
      // Rounded and relu'd: many ties (zeros, equal values) exercise the first-maximum rule.
      const xv = randomArray(size, `pool ${c.name}`).map((v) => Math.max(0, Math.round(v * 2) / 2));
      if ('special' in c) {
        for (let i = 0; i < 12; i++) xv[i] = Number.NEGATIVE_INFINITY; // a −∞ row: windows mixing −∞ with finite values
        for (let i = 24; i < 30; i++) xv[i] = Number.NaN;
      }
      const x = { values: xv, shape: c.shape };
      const f = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.size, c.stride, c.pad);
      const [ysh] = await onBackend('cpu', [x], (t) => f(t!));
      const dy = { values: randomArray(tf.util.sizeFromShape(ysh!.shape), `pool dy ${c.name}`), shape: ysh!.shape };
      const grad = (t: tf.Tensor, d: tf.Tensor) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), d)))(t);
      const before = tf.memory().numTensors;
      const [gw] = await onBackend('wasm', [x, dy], (t, d) => grad(t!, d!));
      expect(tf.memory().numTensors).toBe(before);
      const [gc] = await onBackend('cpu', [x, dy], (t, d) => grad(t!, d!));
      expect(relativeError(gw!.data, gc!.data)).toBeLessThan(1e-6);
    });
  }
});

describe('wasm Tile agrees with cpu', () => {
  const cases: { shape: number[]; reps: number[]; dtype: 'float32' | 'int32' }[] = [
    { shape: [1, 1, 1, 5], reps: [7, 3, 4, 1], dtype: 'float32' }, // the batch-norm gradient pattern
    { shape: [2, 3, 4], reps: [3, 1, 2], dtype: 'float32' },
    { shape: [3, 1, 2], reps: [1, 4, 3], dtype: 'int32' },
    { shape: [5], reps: [4], dtype: 'int32' },
    { shape: [2, 3], reps: [1, 1], dtype: 'float32' },
  ];
  for (const c of cases) {
    it(`${c.dtype} [${c.shape}] × [${c.reps}]`, async () => {
      const run = async (backend: 'wasm' | 'cpu') => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const v = randomArray(tf.util.sizeFromShape(c.shape), `tile ${c.shape}`).map((a) => Math.round(a * 10));
          return tf.tile(tf.tensor(v, c.shape, c.dtype), c.reps).arraySync();
        });
      };
      expect(await run('wasm')).toEqual(await run('cpu'));
    });
  }
});

describe('kernel pool', () => {
  // The pool exists only with more than one core (the CI machines have 2).
  it.skipIf(os.availableParallelism() < 2)(
    'a trap on the calling thread still waits for the workers, so the next call is whole',
    async () => {
      await tf.setBackend('wasm');
      const backend = tf.backend() as BackendWasm;
      expect(kernelThreads(backend)).toBeGreaterThan(1);
      const [a, b, c] = [tf.randomNormal([1024, 1024]), tf.randomNormal([1024, 1024]), tf.zeros([1024, 1024])];
      const [x, y] = [tf.randomNormal([8, 32, 32, 16]), tf.zeros([8, 34, 34, 16])];
      const pad = (b0: number, b1: number) => {
        const [inImage, outImage] = [4 * 32 * 32 * 16, 4 * 34 * 34 * 16];
        return [heapOffset(backend, x) + b0 * inImage, heapOffset(backend, y) + b0 * outImage, b1 - b0, 32, 32, 16, 1, 1, 1, 1];
      };
      const outOfBounds = 0xffffff00; // past the end of the heap: the calling thread's share traps at once
      // ... while the worker's share, a 1024³ product (tens of ms), is still running when the trap returns.
      const product = [heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, c), 1024, 1024, 1024, 1, 0, 1024];
      expect(() =>
        runShares(backend, 'matmul', [[outOfBounds, outOfBounds, outOfBounds, 1024, 1024, 1024, 1, 0, 1024], product]),
      ).toThrow();
      // Read at once: had the call returned without waiting, the product would still be half-written.
      const snapshot = heapFloats(backend, heapOffset(backend, c), 1024 * 1024).slice();
      const reference = tf.matMul(a, b);
      expect(relativeError(snapshot, reference.dataSync())).toBeLessThan(1e-5);
      runShares(backend, 'pad_nhwc', [pad(0, 4), pad(4, 8)]);
      const expected = tf.pad(x, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]);
      expect(y.dataSync()).toEqual(expected.dataSync());
      tf.dispose([a, b, c, x, y, expected, reference]);
    },
  );
});

describe('wasm Identity', () => {
  it('shares the data instead of copying it; a clone outlives its source and nothing is freed twice', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as BackendWasm;
    const ids = backend.numDataIds();
    const x = tf.tensor([1, 2, 3], [3], 'float32');
    const y = tf.clone(x);
    expect(backend.numDataIds()).toBe(ids + 1); // one buffer for both (the built-in kernel made two)
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(backend.numDataIds()).toBe(ids);
    const s = tf.clone(tf.tensor(['a', 'b'])); // strings keep the built-in kernel
    expect(s.dataSync()).toEqual(['a', 'b']);
    s.dispose();
  });
});
