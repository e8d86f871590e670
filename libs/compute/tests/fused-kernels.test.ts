import { beforeAll, describe, expect, it } from 'vitest';
import { batchNormTrain, batchNormTrainComposite, biasRelu, initCompute, tf } from '../src/index.js';
import { onBackend, randomArray, relativeError } from './helpers.js';

beforeAll(async () => {
  // Two threads: the threaded build, whose memory is shared (the unshared build is covered in
  // single-thread.test.ts).
  await initCompute({ backend: 'wasm', threads: 2, env: {} });
  const memory = (tf.findBackend('wasm') as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer;
  expect(memory instanceof SharedArrayBuffer).toBe(true);
});

type Input = { values: Float32Array; shape: number[] };
const input = (shape: number[], stream: string, map: (v: number) => number = (v) => v): Input => ({
  values: randomArray(tf.util.sizeFromShape(shape), stream).map(map),
  shape,
});

/** Shapes whose channel counts hit every path: multiples of 4, lcm(c, 4) = 2c and 4c, a scalar tail. */
const BN_SHAPES = [
  [7, 5, 3, 6], // LeNet-like c = 6: period 12, n·c = 630 = 52 periods + a tail of 6
  [2, 3, 3, 5], // odd c: period 20, a tail of 10
  [4, 4, 4, 64],
  [3, 7], // rank 2, n = 3
  [1, 1, 1, 3], // n = 1: zero variance
  [2, 40, 40, 4], // 3200 rows: more than one double-precision flush block
];

describe('fused batch norm (wasm kernel) equals the composite on cpu', () => {
  for (const shape of BN_SHAPES) {
    for (const relu of [false, true]) {
      it(`[${shape}] relu=${relu}: outputs and the gradients to x, gamma, beta (through y, mean and variance)`, async () => {
        const c = shape[shape.length - 1]!;
        // Shifted away from 0 so the variance-about-the-mean path is exercised, not just E[x²].
        const x = input(shape, `bn x ${shape}`, (v) => 3 + 2 * v);
        const gamma = input([c], `bn gamma ${shape}`, (v) => 1 + 0.3 * v);
        const beta = input([c], `bn beta ${shape}`);
        const dy = input(shape, `bn dy ${shape}`);
        const dm = input([c], `bn dmean ${shape}`);
        const dv = input([c], `bn dvar ${shape}`);
        const run =
          (fused: boolean) =>
          (...t: tf.Tensor[]) => {
            const [xt, g, b, d, m, v] = t as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor, tf.Tensor, tf.Tensor];
            const f = (a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
              const r = fused
                ? batchNormTrain(a, gg as tf.Tensor1D, bb as tf.Tensor1D, 1e-5, { relu })
                : batchNormTrainComposite(a, gg as tf.Tensor1D, bb as tf.Tensor1D, 1e-5, relu);
              return tf.addN([tf.sum(tf.mul(r.y, d)), tf.sum(tf.mul(r.mean, m)), tf.sum(tf.mul(r.variance, v))]) as tf.Scalar;
            };
            const r = fused ? batchNormTrain(xt, g, b, 1e-5, { relu }) : batchNormTrainComposite(xt, g, b, 1e-5, relu);
            return [r.y, r.mean, r.variance, ...tf.grads(f)([xt, g, b])];
          };
        const before = tf.memory().numTensors;
        const wasm = await onBackend('wasm', [x, gamma, beta, dy, dm, dv], run(true));
        expect(tf.memory().numTensors).toBe(before);
        const cpu = await onBackend('cpu', [x, gamma, beta, dy, dm, dv], run(false));
        const names = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'];
        for (let i = 0; i < names.length; i++) {
          expect(wasm[i]!.shape, names[i]).toEqual(cpu[i]!.shape);
          expect(relativeError(wasm[i]!.data, cpu[i]!.data), names[i]).toBeLessThan(1e-4);
        }
      });
    }
  }

  it('keeps 1e-6 relative accuracy on a 10^6-row mean and variance (offset data)', async () => {
    await tf.setBackend('wasm');
    const n = 1_000_000;
    const values = randomArray(n * 2, 'bn long').map((v, i) => (i % 2 ? 1000 + v : -5 + 0.01 * v));
    let [m0, m1] = [0, 0];
    for (let i = 0; i < n; i++) [m0, m1] = [m0 + values[2 * i]!, m1 + values[2 * i + 1]!];
    [m0, m1] = [m0 / n, m1 / n];
    let [v0, v1] = [0, 0];
    for (let i = 0; i < n; i++) [v0, v1] = [v0 + (values[2 * i]! - m0) ** 2, v1 + (values[2 * i + 1]! - m1) ** 2];
    const [mean, variance] = tf.tidy(() => {
      const r = batchNormTrain(tf.tensor2d(values, [n, 2]), tf.ones([2]), tf.zeros([2]), 1e-5);
      return [r.mean.dataSync(), r.variance.dataSync()];
    });
    expect(Math.abs(mean![0]! - m0) / Math.abs(m0)).toBeLessThan(1e-6);
    expect(Math.abs(mean![1]! - m1) / Math.abs(m1)).toBeLessThan(1e-6);
    expect(Math.abs(variance![0]! - v0 / n) / (v0 / n)).toBeLessThan(1e-5);
    expect(Math.abs(variance![1]! - v1 / n) / (v1 / n)).toBeLessThan(1e-5);
  });
});

describe('fused bias + ReLU (wasm kernel) equals relu(x + bias) on cpu', () => {
  for (const shape of [
    [7, 5, 3, 6],
    [4, 9, 9, 1],
    [3, 1, 1, 120],
    [2, 3, 3, 5],
  ]) {
    it(`[${shape}]: output and the gradients to x and bias`, async () => {
      const c = shape[shape.length - 1]!;
      const x = input(shape, `br x ${shape}`);
      const bias = input([c], `br b ${shape}`, (v) => 0.5 * v);
      const dy = input(shape, `br dy ${shape}`);
      const run =
        (fused: boolean) =>
        (...t: tf.Tensor[]) => {
          const [xt, b, d] = t as [tf.Tensor, tf.Tensor1D, tf.Tensor];
          const f = (a: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.mul(fused ? biasRelu(a, bb as tf.Tensor1D) : tf.relu(tf.add(a, bb)), d)) as tf.Scalar;
          return [fused ? biasRelu(xt, b) : tf.relu(tf.add(xt, b)), ...tf.grads(f)([xt, b])];
        };
      const before = tf.memory().numTensors;
      const wasm = await onBackend('wasm', [x, bias, dy], run(true));
      expect(tf.memory().numTensors).toBe(before);
      const cpu = await onBackend('cpu', [x, bias, dy], run(false));
      for (let i = 0; i < 3; i++) expect(relativeError(wasm[i]!.data, cpu[i]!.data), ['y', 'dx', 'dbias'][i]).toBeLessThan(1e-6);
    });
  }

  it('rejects a bias that does not match the channel count', async () => {
    await tf.setBackend('wasm');
    expect(() => tf.tidy(() => biasRelu(tf.zeros([2, 3, 3, 4]), tf.zeros([3])))).toThrow(/bias of x's last dimension/);
  });
});

describe('wasm Sum over the leading axes equals cpu; other reductions still work', () => {
  const cases: { shape: number[]; axis: number[]; keepDims: boolean; dtype: 'float32' | 'int32' }[] = [
    { shape: [7, 5, 3, 6], axis: [0, 1, 2], keepDims: false, dtype: 'float32' },
    { shape: [7, 5, 3, 6], axis: [2, 0, 1], keepDims: true, dtype: 'float32' },
    { shape: [9, 5], axis: [0], keepDims: false, dtype: 'float32' },
    { shape: [7, 5, 3, 6], axis: [1, 2], keepDims: false, dtype: 'float32' }, // not leading: built-in
    { shape: [7, 5, 3, 6], axis: [0, 1, 2], keepDims: false, dtype: 'int32' }, // int: built-in
    { shape: [4, 5], axis: [1], keepDims: true, dtype: 'float32' },
  ];
  for (const c of cases) {
    it(`${c.dtype} [${c.shape}] axis [${c.axis}] keepDims=${c.keepDims}`, async () => {
      const run = async (backend: 'wasm' | 'cpu') => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const v = randomArray(tf.util.sizeFromShape(c.shape), `sum ${c.shape}`).map((a) =>
            c.dtype === 'int32' ? Math.round(a * 10) : a,
          );
          const r = tf.sum(tf.tensor(v, c.shape, c.dtype), c.axis, c.keepDims);
          return { shape: r.shape, dtype: r.dtype, data: Array.from(r.dataSync()) };
        });
      };
      const [w, cpu] = [await run('wasm'), await run('cpu')];
      expect(w.shape).toEqual(cpu.shape);
      expect(w.dtype).toBe(cpu.dtype);
      expect(relativeError(w.data, cpu.data)).toBeLessThan(1e-6);
    });
  }
});

describe('wasm BatchMatMul (oodkit kernel) equals cpu', () => {
  const cases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
    { a: [128, 120], b: [120, 84], ta: false, tb: false }, // LeNet fc1 forward shapes
    { a: [128, 120], b: [84, 120], ta: false, tb: true },
    { a: [128, 84], b: [128, 120], ta: true, tb: false }, // a weight gradient
    { a: [7, 5], b: [11, 7], ta: true, tb: true },
    { a: [9, 13], b: [13, 1], ta: false, tb: false }, // n = 1: scalar-lane tail
    { a: [6, 13], b: [13, 7], ta: false, tb: false }, // n = 7: one 4-wide tile + a 3-lane tail
    { a: [3, 5, 6], b: [3, 6, 10], ta: false, tb: false }, // batched; n = 10: an 8-wide tile + 2 lanes
    { a: [1, 5, 6], b: [4, 6, 3], ta: false, tb: false }, // batch 1 broadcast
    { a: [2, 3, 4, 5], b: [2, 3, 6, 5], ta: false, tb: true }, // rank 4
  ];
  for (const c of cases) {
    it(`[${c.a}]${c.ta ? 'ᵀ' : ''} · [${c.b}]${c.tb ? 'ᵀ' : ''}`, async () => {
      const run = async (backend: 'wasm' | 'cpu') => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const make = (shape: number[], name: string) => {
            const v = randomArray(tf.util.sizeFromShape(shape), `mm ${name} ${c.a} ${c.b}`);
            return tf.tensor(v, shape);
          };
          const r = tf.matMul(make(c.a, 'a'), make(c.b, 'b'), c.ta, c.tb);
          return { shape: r.shape, data: Array.from(r.dataSync()) };
        });
      };
      const [w, cpu] = [await run('wasm'), await run('cpu')];
      expect(w.shape).toEqual(cpu.shape);
      expect(relativeError(w.data, cpu.data)).toBeLessThan(1e-5);
    });
  }

  it('splits a large product over the kernel pool with the same result', async () => {
    await tf.setBackend('wasm');
    const [a, b] = [randomArray(301 * 257, 'mm big a'), randomArray(257 * 130, 'mm big b')];
    const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, [301, 257]), tf.tensor2d(b, [257, 130])).dataSync());
    await tf.setBackend('cpu');
    const want = tf.tidy(() => tf.matMul(tf.tensor2d(a, [301, 257]), tf.tensor2d(b, [257, 130])).dataSync());
    expect(relativeError(got, want)).toBeLessThan(1e-5);
  });
});
