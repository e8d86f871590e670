import { initCompute, tf } from '@oodkit/compute';
import { DataError, type Classifier } from '@oodkit/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensembleArgs, EnsemblePostprocessor } from '../src/postprocessors/ensemble.js';
import { argmax64, expectClose, finalLayer, softmax64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/** A 1×1×2-input linear network logits = W·x + b (name, classes configurable for the mismatch cases). */
function linear(w: number[][], b: number[], name = 'lin'): Classifier & { disposed: boolean } {
  const wt = tf.tensor2d(w);
  const bt = tf.tensor1d(b);
  const forward = (x: Tensor4D) =>
    tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], 2]) as Tensor2D, wt, false, true), bt) as Tensor2D);
  const unused = () => {
    throw new Error('unused');
  };
  const net = {
    name,
    inputShape: [1, 1, 2] as const,
    numClasses: w.length,
    featureDim: 2,
    disposed: false,
    forward,
    forwardFeatures: unused,
    forwardBlocks: unused,
    forwardThreshold: unused,
    head: unused,
    finalLayer: unused,
    trainableVariables: () => [],
    namedVariables: () => new Map(),
    dispose: () => {
      net.disposed = true;
      tf.dispose([wt, bt]);
    },
  };
  return net;
}

const MEMBERS: Record<string, [number[][], number[]]> = {
  'a.ckpt': [
    [
      [1, 0],
      [0, 1],
      [-1, 1],
    ],
    [0, 0.5, 0],
  ],
  'b.ckpt': [
    [
      [2, -1],
      [0.5, 0.5],
      [0, -2],
    ],
    [0.1, 0, -0.3],
  ],
};
const lin = ([w, b]: [number[][], number[]], x: number[]) => w.map((row, c) => row[0]! * x[0]! + row[1]! * x[1]! + b[c]!);

describe('ensemble', () => {
  const evaluated = () =>
    linear(
      [
        [9, 9],
        [9, 9],
        [9, 9],
      ],
      [0, 0, 0],
    );
  const model = (load: (p: string) => Promise<Classifier>) => ({
    finalLayer: finalLayer([[1, 1]], [0]),
    network: evaluated(),
    loadNetwork: load,
  });

  it('scores max softmax of the mean logits of the members (not of the evaluated network)', async () => {
    const loaded: ReturnType<typeof linear>[] = [];
    const pp = new EnsemblePostprocessor(ensembleArgs, ensembleArgs.parse({ checkpoints: ['a.ckpt', 'b.ckpt'] }));
    await pp.setup(
      model(async (p) => {
        const net = linear(...MEMBERS[p]!);
        loaded.push(net);
        return net;
      }),
      {},
    );
    const xs = [
      [0.5, -1],
      [2, 1],
      [-1, 3],
    ];
    const inputs = tf.tensor4d(xs.flat(), [3, 1, 1, 2]);
    const features = tf.zeros([3, 2]) as Tensor2D;
    const r = await pp.score({ features, inputs });
    const expected = xs.map((x) => {
      const a = lin(MEMBERS['a.ckpt']!, x);
      const b = lin(MEMBERS['b.ckpt']!, x);
      const p = softmax64(a.map((v, c) => (v + b[c]!) / 2));
      return { conf: Math.max(...p), pred: argmax64(p) };
    });
    expectClose(
      r.conf,
      expected.map((e) => e.conf),
    );
    expect(Array.from(r.pred)).toEqual(expected.map((e) => e.pred));
    pp.dispose();
    expect(loaded.every((n) => n.disposed)).toBe(true);
    tf.dispose([inputs, features]);
  });

  it('names a missing or mismatched member and releases the ones already loaded', async () => {
    const loaded: ReturnType<typeof linear>[] = [];
    const loader = async (p: string) => {
      if (p === 'missing.ckpt') throw new DataError('missing.ckpt: no such checkpoint');
      const net =
        p === 'lenet.ckpt'
          ? linear(...MEMBERS['a.ckpt']!, 'lenet')
          : p === 'two.ckpt'
            ? linear(
                [
                  [1, 0],
                  [0, 1],
                ],
                [0, 0],
              )
            : linear(...MEMBERS[p]!);
      loaded.push(net);
      return net;
    };
    const build = (checkpoints: string[]) => new EnsemblePostprocessor(ensembleArgs, ensembleArgs.parse({ checkpoints }));
    await expect(build(['a.ckpt', 'missing.ckpt']).setup(model(loader), {})).rejects.toThrow(
      /ensemble: postprocessor.args.checkpoints\[1\] \(missing.ckpt\): missing.ckpt: no such checkpoint/,
    );
    await expect(build(['lenet.ckpt']).setup(model(loader), {})).rejects.toThrow(
      /checkpoints\[0\] \(lenet.ckpt\) holds network 'lenet', the evaluated network is 'lin'/,
    );
    await expect(build(['two.ckpt']).setup(model(loader), {})).rejects.toThrow(/holds 2 classes, the evaluated network has 3/);
    await expect(build([]).setup(model(loader), {})).rejects.toThrow(/needs at least one member/);
    await expect(build(['a.ckpt']).setup({ finalLayer: finalLayer([[1, 1]], [0]), network: evaluated() }, {})).rejects.toThrow(
      /cannot load checkpoints/,
    );
    // a failed setup releases the members it had loaded
    expect(loaded.length).toBe(3);
    expect(loaded.every((n) => n.disposed)).toBe(true);
  });
});
