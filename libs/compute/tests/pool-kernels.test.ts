import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '../src/index.js';
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
