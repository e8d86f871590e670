import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '../src/index.js';
import { randomArray } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm', threads: 2, env: {} });
});

/** [shape, begin, size]: contiguous row blocks, strided column and inner-axis slices, −1 sizes, rank 1–5, empty. */
const CASES: [number[], number[], number[]][] = [
  [
    [50, 7],
    [10, 0],
    [16, 7],
  ], // rows: one contiguous run
  [
    [50, 7],
    [3, 2],
    [5, 4],
  ], // a window: one run per row
  [
    [50, 7],
    [0, 6],
    [-1, 1],
  ], // a column
  [[9], [4], [5]],
  [
    [4, 5, 6, 3],
    [1, 0, 0, 0],
    [2, -1, -1, -1],
  ], // leading-axis block of a rank-4 batch
  [
    [4, 5, 6, 3],
    [1, 2, 1, 1],
    [3, 2, 4, 2],
  ],
  [
    [2, 3, 4, 5, 2],
    [1, 1, 0, 2, 0],
    [1, 2, 4, 3, 2],
  ],
  [
    [6, 4],
    [2, 1],
    [0, 3],
  ], // empty
];

async function sliceOn(backend: 'wasm' | 'cpu', dtype: 'float32' | 'int32' | 'bool', shape: number[], begin: number[], size: number[]) {
  await tf.setBackend(backend);
  const values = randomArray(tf.util.sizeFromShape(shape), `slice ${shape}`);
  const x =
    dtype === 'float32'
      ? tf.tensor(values, shape)
      : dtype === 'int32'
        ? tf.tensor(
            Int32Array.from(values, (v) => Math.round(100 * v)),
            shape,
            'int32',
          )
        : tf.tensor(
            Uint8Array.from(values, (v) => (v > 0 ? 1 : 0)),
            shape,
            'bool',
          );
  const y = tf.slice(x, begin, size);
  const out = { shape: y.shape, data: Array.from(y.dataSync()), dtype: y.dtype };
  tf.dispose([x, y]);
  return out;
}

describe('wasm Slice (heap views, no copy of the whole input) equals the cpu backend', () => {
  for (const [shape, begin, size] of CASES) {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      it(`${dtype} [${shape}] begin [${begin}] size [${size}]`, async () => {
        const want = await sliceOn('cpu', dtype, shape, begin, size);
        const got = await sliceOn('wasm', dtype, shape, begin, size);
        expect(got).toEqual(want);
      });
    }
  }

  it('the gradient through a slice (a pad of the upstream gradient) is unchanged', async () => {
    const grad = async (backend: 'wasm' | 'cpu') => {
      await tf.setBackend(backend);
      const x = tf.tensor(randomArray(60, 'slice grad'), [5, 4, 3]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.slice(t, [1, 1, 0], [3, 2, 3]))))(x);
      const out = Array.from(g.dataSync());
      tf.dispose([x, g]);
      return out;
    };
    expect(await grad('wasm')).toEqual(await grad('cpu'));
  });

  it('a slice taken after the heap grew reads the current memory', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor(randomArray(1000, 'slice grow'), [100, 10]);
    const big = tf.zeros([64, 1024, 1024]); // 256 MB: grows the heap between x's allocation and the slice
    const y = tf.slice(x, [90, 0], [10, 10]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync().subarray(900, 1000)));
    tf.dispose([x, big, y]);
  });
});
