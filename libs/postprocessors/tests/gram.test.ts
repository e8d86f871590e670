import { initCompute, tf } from '@oodkit/compute';
import { Rng, silentLogger, type BuildContext } from '@oodkit/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GramAccumulator,
  gramArgs,
  gramBatchFeatures,
  gramFeatures,
  gramHeldOut,
  GramPostprocessor,
  gramScore,
} from '../src/postprocessors/gram.js';
import { expectClose } from './math-fixtures.js';
import { indexBatches, networkReference, tableNetwork } from './network-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const ref = networkReference.gram;
const shapes = ref.layer_shapes as [number, number, number][];
const nTrain = ref.train_labels.length as number;
const nTest = ref.test_logits.length / ref.num_classes;
const blocksOf = (data: number[][], n: number) => data.map((d, l) => tf.tensor4d(d, [n, ...shapes[l]!]) as Tensor4D);
const ctxOf = (seed: number) => ({ logger: silentLogger, rng: Rng.fromSeed(seed), config: {} }) as unknown as BuildContext;

describe('gram', () => {
  it("G_p matches OpenOOD's (row sums of the channel Gram matrix, signed p-th root)", () => {
    const [b0] = blocksOf(ref.train_blocks, nTrain);
    const g = gramFeatures(b0!, 2);
    expectClose(g.dataSync(), ref.gram_train_power2_layer0, 1e-5);
    // by hand for one sample, p = 3 on a signed 1×1×2 block: G = sign(s)|s|^(1/3), s_c = x_c³(x_0³ + x_1³)
    const x = tf.tensor4d([2, -1], [1, 1, 1, 2]);
    const g3 = gramFeatures(x, 3);
    const s = [8 * 7, -1 * 7];
    expectClose(
      g3.dataSync(),
      s.map((v) => Math.sign(v) * Math.abs(v) ** (1 / 3)),
    );
    tf.dispose([b0!, g, x, g3]);
  });

  it('min/max, normalisers and deviations agree with the torch reference (same held-out rows)', async () => {
    const powers = ref.powers as number[];
    const train = blocksOf(ref.train_blocks, nTrain);
    const held = new Uint8Array(nTrain);
    for (const i of ref.held_out) held[i] = 1;
    const acc = new GramAccumulator(powers, ref.num_classes);
    acc.add(await gramBatchFeatures(train, powers), Int32Array.from(ref.train_labels), held);
    const stats = acc.finish();
    expectClose(stats.factors, ref.factors, 1e-5);
    const test = blocksOf(ref.test_blocks, nTest);
    const logits = tf.tensor2d(ref.test_logits, [nTest, ref.num_classes]) as Tensor2D;
    const { pred, conf } = gramScore(stats, test, logits);
    expect(Array.from(pred.dataSync())).toEqual(ref.pred);
    expectClose(conf.dataSync(), ref.conf, 1e-4);
    tf.dispose([...train, ...test, logits, pred, conf]);
  });

  it('holds out ⌊10%⌋ of each class, seeded', () => {
    const labels = Int32Array.from({ length: 95 }, (_, i) => (i < 50 ? 0 : i < 69 ? 1 : 2)); // 50, 19, 26 rows
    const held = gramHeldOut(labels, Rng.fromSeed(1));
    const count = (c: number) => labels.reduce((s, l, i) => s + (l === c && held[i] ? 1 : 0), 0);
    expect([count(0), count(1), count(2)]).toEqual([5, 1, 2]);
    expect(Array.from(gramHeldOut(labels, Rng.fromSeed(1)))).toEqual(Array.from(held));
    expect(Array.from(gramHeldOut(labels, Rng.fromSeed(2)))).not.toEqual(Array.from(held));
  });

  it('runs end to end on a network source: two passes over the train inputs, scores as the pure path', async () => {
    const train = { data: ref.train_blocks as number[][], n: nTrain };
    // one table: train rows first, test rows after (the inputs hold the row index)
    const zeros = new Array(nTrain * ref.num_classes).fill(0);
    const net = tableNetwork(
      shapes.map((shape, l) => ({ data: [...train.data[l]!, ...ref.test_blocks[l]], shape })),
      [...zeros, ...ref.test_logits],
      ref.num_classes,
    );
    let passes = 0;
    const model = {
      finalLayer: { numClasses: ref.num_classes, featureDim: 4, weight: new Float32Array(12), bias: new Float32Array(3) },
      network: net,
      setupInputs: (role: string) => {
        if (role !== 'train') return undefined;
        passes++;
        return indexBatches(0, ref.train_labels, 10);
      },
    };
    const pp = new GramPostprocessor(gramArgs, gramArgs.parse({ powers: ref.powers }), ctxOf(9));
    const before = tf.memory().numTensors;
    await pp.setup(model, {});
    expect(passes).toBe(2);
    const inputs = tf.tensor4d(
      Array.from({ length: nTest }, (_, i) => nTrain + i),
      [nTest, 1, 1, 1],
    );
    const features = tf.zeros([nTest, 4]) as Tensor2D;
    const r = await pp.score({ features, inputs });
    // the pure path with the rows the postprocessor held out
    const held = gramHeldOut(Int32Array.from(ref.train_labels), Rng.fromSeed(9).derive('held-out').derive(ref.powers.join(',')));
    const acc = new GramAccumulator(ref.powers, ref.num_classes);
    const trainBlocks = blocksOf(ref.train_blocks, nTrain);
    acc.add(await gramBatchFeatures(trainBlocks, ref.powers), Int32Array.from(ref.train_labels), held);
    const test = blocksOf(ref.test_blocks, nTest);
    const logits = tf.tensor2d(ref.test_logits, [nTest, ref.num_classes]) as Tensor2D;
    const expected = gramScore(acc.finish(), test, logits);
    expectClose(r.conf, expected.conf.dataSync(), 1e-5);
    expect(Array.from(r.pred)).toEqual(ref.pred);
    // higher powers change the statistics: setHyperparameters re-fits (two more passes)
    await pp.setHyperparameters({ powers: [1, 2] });
    expect(passes).toBe(4);
    const r2 = await pp.score({ features, inputs });
    expect(Array.from(r2.conf)).not.toEqual(Array.from(r.conf));
    tf.dispose([...trainBlocks, ...test, logits, expected.pred, expected.conf, inputs, features]);
    pp.dispose();
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });

  it('names missing inputs and too-small classes', async () => {
    const pp = new GramPostprocessor(gramArgs, gramArgs.parse({}), ctxOf(1));
    const net = tableNetwork([{ data: [1, 2, 3], shape: [1, 1, 1] }], [0, 1, 0, 1, 0, 1], 2);
    const finalLayer = { numClasses: 2, featureDim: 1, weight: new Float32Array(2), bias: new Float32Array(2) };
    await expect(pp.setup({ finalLayer, network: net }, {})).rejects.toThrow(/gram fits on the ID train inputs/);
    await expect(pp.setup({ finalLayer, network: net, setupInputs: () => indexBatches(0, [0, 1, 0], 2) }, {})).rejects.toThrow(
      /a class needs at least 10 train rows/,
    );
    pp.dispose();
    net.dispose();
  });
});
