import { readFileSync } from 'node:fs';
import { tf } from '@oodkit/compute';
import type { Batch, Classifier } from '@oodkit/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';

/** The torch reference of fixtures/network_methods_reference.py. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const networkReference: any = JSON.parse(
  readFileSync(new URL('./fixtures/network-methods-reference.json', import.meta.url), 'utf8'),
);

/**
 * A "network" that looks its outputs up: the input [N, 1, 1, 1] holds a row index into tables of
 * block maps and logits, so a postprocessor can be run end to end on outputs fixed by a fixture.
 * `features` is the flattened last block.
 */
export function tableNetwork(
  blocks: { data: number[]; shape: [number, number, number] }[],
  logits: number[],
  numClasses: number,
): Classifier {
  const rows = logits.length / numClasses;
  const tables = blocks.map((b) => tf.tensor4d(b.data, [rows, ...b.shape]));
  const logitTable = tf.tensor2d(logits, [rows, numClasses]);
  const index = (x: Tensor4D) => tf.cast(tf.reshape(x, [x.shape[0]]), 'int32');
  const lastDim = blocks[blocks.length - 1]!.shape.reduce((a, b) => a * b, 1);
  const unused = () => {
    throw new Error('unused by this test');
  };
  return {
    name: 'table',
    inputShape: [1, 1, 1],
    numClasses,
    featureDim: lastDim,
    forward: (x) => tf.tidy(() => tf.gather(logitTable, index(x)) as Tensor2D),
    forwardFeatures: unused,
    forwardBlocks: (x) =>
      tf.tidy(() => {
        const i = index(x);
        const out = tables.map((t) => tf.gather(t, i) as Tensor4D);
        return {
          logits: tf.gather(logitTable, i) as Tensor2D,
          features: tf.reshape(out[out.length - 1]!, [x.shape[0], lastDim]) as Tensor2D,
          blocks: out,
        };
      }),
    forwardThreshold: unused,
    head: unused,
    finalLayer: unused,
    trainableVariables: () => [],
    namedVariables: () => new Map(),
    dispose: () => {
      for (const t of tables) t.dispose();
      logitTable.dispose();
    },
  };
}

/** Batches of row indices [from, from + count) with their labels, as a loader hands them over. */
export function* indexBatches(from: number, labels: readonly number[], batchSize: number): Generator<Batch> {
  for (let s = 0; s < labels.length; s += batchSize) {
    const n = Math.min(batchSize, labels.length - s);
    yield {
      x: tf.tensor4d(
        Array.from({ length: n }, (_, i) => from + s + i),
        [n, 1, 1, 1],
      ),
      y: tf.tensor1d(labels.slice(s, s + n), 'int32'),
      indices: Int32Array.from({ length: n }, (_, i) => s + i),
    };
  }
}
