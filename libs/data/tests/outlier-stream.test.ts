import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { MemoryDataset } from '../src/datasets/base.js';
import { OutlierStream } from '../src/sampling/outlier-stream.js';
import { range } from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const outliers = (n: number) =>
  new MemoryDataset(
    'oe',
    Uint8Array.from(range(n), (i) => i),
    [1, 1, 1],
    3,
    new Int32Array(n).fill(-1),
  );
const sorted = (batches: Int32Array[]) => batches.flatMap((b) => [...b]).sort((a, b) => a - b);

describe('OutlierStream (OpenOOD OETrainer / MixOETrainer iteration)', () => {
  it('each pass over the outliers ends with a short batch, then restarts with a fresh permutation', () => {
    const stream = new OutlierStream({ dataset: outliers(10), batchSize: 4, preprocess: [], rng: Rng.fromSeed(1) });
    const plan = stream.epochIndices(0, Array(7).fill(8));
    expect(plan.map((b) => b.length)).toEqual([4, 4, 2, 4, 4, 2, 4]);
    // batches 0–2 are one permutation of the set, 3–5 another (no batch spans two passes)
    expect(sorted(plan.slice(0, 3))).toEqual(range(10));
    expect(sorted(plan.slice(3, 6))).toEqual(range(10));
    expect([...plan[3]!]).not.toEqual([...plan[0]!]);
  });

  it('restarts at every epoch start, wherever the previous epoch left the pass', () => {
    const stream = new OutlierStream({ dataset: outliers(10), batchSize: 4, preprocess: [], rng: Rng.fromSeed(1) });
    const sizes = Array(4).fill(8); // epoch 0 ends one batch into its second pass
    const first = stream.epochIndices(0, sizes);
    const second = stream.epochIndices(1, sizes);
    expect(second.map((b) => b.length)).toEqual([4, 4, 2, 4]);
    expect(sorted(second.slice(0, 3))).toEqual(range(10));
    expect([...second[0]!]).not.toEqual([...first[0]!]);
    // a pure function of (seed, epoch): recomputing an epoch (resume) gives the same batches
    expect(stream.epochIndices(1, sizes).map((b) => [...b])).toEqual(second.map((b) => [...b]));
  });

  it("'at-least-id' (MixOE): a batch shorter than the ID batch restarts the pass instead", () => {
    const stream = new OutlierStream({ dataset: outliers(10), batchSize: 4, preprocess: [], rng: Rng.fromSeed(2), rule: 'at-least-id' });
    const plan = stream.epochIndices(0, [4, 4, 4, 4, 3, 2]);
    // the 2 left after two batches are fewer than the ID batch's 4 → restart; in the second pass
    // they are fewer than 3 → restart again
    expect(plan.map((b) => b.length)).toEqual([4, 4, 4, 4, 4, 4]);
    expect(new Set([...plan[0]!, ...plan[1]!]).size).toBe(8);
    expect(new Set([...plan[2]!, ...plan[3]!]).size).toBe(8);
    // a short ID batch (2) takes the 2 left over
    const tail = stream.epochIndices(0, [4, 4, 2]);
    expect(tail.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(() =>
      new OutlierStream({ dataset: outliers(3), batchSize: 4, preprocess: [], rng: Rng.fromSeed(2), rule: 'at-least-id' }).epochIndices(
        0,
        [4],
      ),
    ).toThrow(/3 outliers.*ID batch of 4/);
  });
});
