import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '../src/index.js';
import { randomArray, relativeError } from './helpers.js';

/*
 * Tiny networks covering the ops the project's networks and trainers differentiate through: conv2d
 * (strides 1/2, same/valid/explicit, with bias), batch norm with batch statistics, relu/leakyRelu/
 * tanh/sigmoid, max/avg pooling, depthwise and separable convs, residual adds, pad, transpose,
 * concat, bilinear resize (nearest: adjoint test below), conv2dTranspose (a DCGAN generator), fused conv, gather
 * (embeddings), dropout-free dense heads, softmax / sigmoid cross-entropy and means. Gradients of
 * every parameter on wasm must equal the cpu backend's.
 */

type Params = Record<string, number[]>;
type Net = {
  params: Params;
  input: [number, number, number, number];
  labels: number;
  loss: (p: Record<string, tf.Tensor>, x: tf.Tensor4D, y: tf.Tensor2D) => tf.Scalar;
};

const N = 4;

function bn(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm4d(x, mean as tf.Tensor1D, variance as tf.Tensor1D, beta as tf.Tensor1D, gamma as tf.Tensor1D, 1e-5);
}

const CLASSIFIER: Net = {
  input: [N, 13, 13, 3],
  labels: 5,
  params: {
    w1: [3, 3, 3, 8],
    g1: [8],
    be1: [8],
    w2: [3, 3, 8, 7],
    dw: [3, 3, 7, 2],
    sep_d: [3, 3, 14, 1],
    sep_p: [1, 1, 14, 6],
    fc: [6, 5],
    fcb: [5],
  },
  loss: (p, x, y) => {
    // (no conv bias before batch norm: its gradient is exactly zero)
    let h = tf.relu(bn(tf.conv2d(x, p.w1 as tf.Tensor4D, 1, 'same'), p.g1!, p.be1!));
    h = tf.maxPool(h, 2, 2, 'valid'); // 6×6
    h = tf.relu(
      tf.conv2d(h, p.w2 as tf.Tensor4D, 2, [
        [0, 0],
        [1, 1],
        [1, 0],
        [0, 0],
      ]),
    ); // 3×3
    h = tf.depthwiseConv2d(h, p.dw as tf.Tensor4D, 1, 'same');
    h = tf.separableConv2d(h, p.sep_d as tf.Tensor4D, p.sep_p as tf.Tensor4D, 1, 'valid'); // 1×1? no: 3×3 valid → 1×1
    h = tf.avgPool(
      tf.pad(h, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]),
      2,
      1,
      'valid',
    );
    const z = tf.mean(h, [1, 2]) as tf.Tensor2D;
    const logits = tf.add(tf.matMul(z, p.fc as tf.Tensor2D), p.fcb!) as tf.Tensor2D;
    return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
  },
};

const RESIDUAL: Net = {
  input: [N, 9, 9, 4],
  labels: 3,
  params: {
    stem: [3, 3, 4, 6],
    a: [3, 3, 6, 6],
    b: [3, 3, 6, 6],
    ga: [6],
    ba: [6],
    down: [3, 3, 6, 10],
    short: [1, 1, 6, 10],
    fb: [10],
    emb: [3, 10],
    head: [20, 3],
  },
  loss: (p, x, y) => {
    const h0 = tf.fused.conv2d({ x, filter: p.stem as tf.Tensor4D, strides: 1, pad: 'same', activation: 'relu' });
    let h = tf.relu(
      bn(
        tf.conv2d(h0, p.a as tf.Tensor4D, 1, [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ]),
        p.ga!,
        p.ba!,
      ),
    );
    h = tf.add(tf.conv2d(h, p.b as tf.Tensor4D, 1, 'same'), h0) as tf.Tensor4D;
    const down = tf.conv2d(
      tf.pad(h, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]),
      p.down as tf.Tensor4D,
      2,
      'valid',
    ); // 5×5
    const short = tf.conv2d(h, p.short as tf.Tensor4D, 2, 'valid'); // 5×5
    h = tf.leakyRelu(tf.add(tf.add(down, short), p.fb!) as tf.Tensor4D, 0.1);
    const t = tf.transpose(h, [0, 3, 1, 2]); // NCHW view, as some methods take
    const z = tf.max(t, [2, 3]) as tf.Tensor2D;
    const labels = tf.argMax(y, 1) as tf.Tensor1D;
    const e = tf.gather(p.emb!, labels) as tf.Tensor2D; // class embeddings: gather → UnsortedSegmentSum
    const logits = tf.matMul(tf.concat([z, tf.mul(z, e)], 1), p.head as tf.Tensor2D) as tf.Tensor2D;
    return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
  },
};

const GENERATOR: Net = {
  input: [N, 1, 1, 8],
  labels: 1,
  params: {
    g1: [4, 4, 12, 8],
    gg: [12],
    gb: [12],
    g2: [4, 4, 5, 12],
    g3: [3, 3, 3, 5],
    d1: [4, 4, 3, 6],
    d2: [3, 3, 6, 1],
  },
  loss: (p, z, y) => {
    // DCGAN-style: the forward of conv2dTranspose is Conv2DBackpropInput; its grads need Conv2D and Conv2DBackpropFilter.
    let h = tf.conv2dTranspose(z, p.g1 as tf.Tensor4D, [N, 4, 4, 12], 1, 'valid');
    h = tf.relu(bn(h, p.gg!, p.gb!));
    h = tf.conv2dTranspose(h, p.g2 as tf.Tensor4D, [N, 8, 8, 5], 2, 'same');
    h = tf.image.resizeBilinear(tf.relu(h), [11, 11]);
    // (nearest-neighbour resize is checked separately: tfjs's cpu gradient for it is wrong)
    const img = tf.tanh(tf.conv2dTranspose(h, p.g3 as tf.Tensor4D, [N, 23, 23, 3], 2, 'valid'));
    let d = tf.leakyRelu(tf.conv2d(img, p.d1 as tf.Tensor4D, 3, 'same'), 0.2); // 8×8
    d = tf.conv2d(d, p.d2 as tf.Tensor4D, 3, 'valid'); // 2×2
    const logit = tf.mean(d, [1, 2]) as tf.Tensor2D;
    return tf.losses.sigmoidCrossEntropy(y, logit) as tf.Scalar;
  },
};

const NETS: Record<string, Net> = { classifier: CLASSIFIER, residual: RESIDUAL, generator: GENERATOR };

function makeInputs(name: string, net: Net) {
  const params = Object.fromEntries(
    Object.entries(net.params).map(([k, shape]) => {
      const fanIn = shape.length === 4 ? shape[0]! * shape[1]! * shape[2]! : shape[0]!;
      const scale = shape.length === 1 ? 0.1 : 1 / Math.sqrt(fanIn);
      const v = randomArray(tf.util.sizeFromShape(shape), `${name}.${k}`).map(
        (a) => a * scale + (k.startsWith('g') && shape.length === 1 ? 1 : 0),
      );
      return [k, v] as const;
    }),
  );
  const x = randomArray(tf.util.sizeFromShape(net.input), `${name}.x`);
  const y = new Float32Array(N * net.labels);
  for (let i = 0; i < N; i++) y[i * net.labels + (i % net.labels)] = net.labels === 1 ? i % 2 : 1;
  return { params, x, y };
}

function gradients(net: Net, data: ReturnType<typeof makeInputs>): Record<string, Float32Array> {
  return tf.tidy(() => {
    const names = Object.keys(net.params);
    const tensors = names.map((k) => tf.tensor(data.params[k]!, net.params[k]));
    const x = tf.tensor(data.x, net.input) as tf.Tensor4D;
    const y = tf.tensor(data.y, [N, net.labels]) as tf.Tensor2D;
    const grads = tf.grads((...ps: tf.Tensor[]) => net.loss(Object.fromEntries(names.map((k, i) => [k, ps[i]!])), x, y))(tensors);
    return Object.fromEntries(names.map((k, i) => [k, grads[i]!.dataSync() as Float32Array]));
  });
}

beforeAll(async () => {
  await initCompute({ backend: 'wasm', env: {} });
});

describe('one training step on wasm matches cpu', () => {
  for (const [name, net] of Object.entries(NETS)) {
    it(`${name}: every parameter's gradient`, async () => {
      const data = makeInputs(name, net);
      await tf.setBackend('wasm');
      const onWasm = gradients(net, data);
      await tf.setBackend('cpu');
      const onCpu = gradients(net, data);
      await tf.setBackend('wasm');
      for (const k of Object.keys(net.params)) {
        expect(relativeError(onWasm[k]!, onCpu[k]!), k).toBeLessThan(1e-4);
        expect(
          onCpu[k]!.some((v) => v !== 0),
          `${k} gets a gradient`,
        ).toBe(true);
      }
    });
  }
});

describe('resize gradients on wasm', () => {
  // <resize(x), dy> = <x, resizeᵀ(dy)> for the adjoint: checked on wasm, because the cpu backend's
  // nearest-neighbour gradient is wrong in tfjs 4.22 (even for 11→22) and cannot be the reference.
  const cases = [
    { name: 'nearest up 8→13', f: (x: tf.Tensor4D) => tf.image.resizeNearestNeighbor(x, [13, 11]) },
    { name: 'nearest down 8→5', f: (x: tf.Tensor4D) => tf.image.resizeNearestNeighbor(x, [5, 3]) },
    { name: 'nearest align corners', f: (x: tf.Tensor4D) => tf.image.resizeNearestNeighbor(x, [13, 6], true) },
    { name: 'nearest half-pixel', f: (x: tf.Tensor4D) => tf.image.resizeNearestNeighbor(x, [11, 5], false, true) },
    { name: 'bilinear up', f: (x: tf.Tensor4D) => tf.image.resizeBilinear(x, [11, 13]) },
    { name: 'bilinear down, align corners', f: (x: tf.Tensor4D) => tf.image.resizeBilinear(x, [5, 3], true) },
  ];
  for (const c of cases) {
    it(`${c.name}: gradient is the adjoint of the forward`, async () => {
      await tf.setBackend('wasm');
      const [lhs, rhs] = tf.tidy(() => {
        const x = tf.tensor(randomArray(2 * 8 * 7 * 3, `resize x ${c.name}`), [2, 8, 7, 3]) as tf.Tensor4D;
        const y = c.f(x);
        const dy = tf.tensor(randomArray(y.size, `resize dy ${c.name}`), y.shape);
        const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(c.f(a as tf.Tensor4D), dy)))(x);
        return [tf.sum(tf.mul(y, dy)).dataSync()[0]!, tf.sum(tf.mul(g, x)).dataSync()[0]!];
      });
      expect(Math.abs(lhs - rhs) / Math.max(1, Math.abs(lhs))).toBeLessThan(1e-4);
    });
  }
});

describe('training on wasm holds memory and stack steady', () => {
  it('numTensors is constant across optimizer steps', async () => {
    await tf.setBackend('wasm');
    const data = makeInputs('classifier', CLASSIFIER);
    const vars = Object.fromEntries(Object.entries(CLASSIFIER.params).map(([k, s]) => [k, tf.variable(tf.tensor(data.params[k]!, s))]));
    const x = tf.tensor(data.x, CLASSIFIER.input) as tf.Tensor4D;
    const y = tf.tensor(data.y, [N, CLASSIFIER.labels]) as tf.Tensor2D;
    const opt = tf.train.momentum(0.05, 0.9);
    const losses: number[] = [];
    const counts: number[] = [];
    for (let step = 0; step < 4; step++) {
      const loss = opt.minimize(() => CLASSIFIER.loss(vars, x, y), true)!;
      losses.push(loss.dataSync()[0]!);
      loss.dispose();
      counts.push(tf.memory().numTensors);
    }
    // After the first step (optimizer slots created) the count never moves.
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(losses[3]).toBeLessThan(losses[0]!);
    opt.dispose();
    tf.dispose([x, y, ...Object.values(vars)]);
  });

  it('a 60-conv-layer net trains a step without recursion problems', async () => {
    await tf.setBackend('wasm');
    const depth = 60;
    const rng = randomArray(depth * 3 * 3 * 4 * 4, 'deep');
    const ws = Array.from({ length: depth }, (_, i) => tf.variable(tf.tensor(rng.subarray(i * 144, (i + 1) * 144), [3, 3, 4, 4]).mul(0.3)));
    const x = tf.tensor(randomArray(2 * 6 * 6 * 4, 'deep.x'), [2, 6, 6, 4]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => {
      let h = x;
      for (const w of ws) h = tf.add(h, tf.relu(tf.conv2d(h, w as tf.Tensor4D, 1, 'same'))) as tf.Tensor4D;
      return tf.mean(tf.square(h)) as tf.Scalar;
    });
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    expect(Object.keys(grads)).toHaveLength(depth);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ...ws]);
  });
});
