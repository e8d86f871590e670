import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute } from '@oodkit/compute';
import { DataError } from '@oodkit/core';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  readCheckpoint,
  restoreVariables,
  writeCheckpoint,
  type Checkpoint,
} from '../src/train/checkpoint.js';
import { TinyNet, weightsOf } from './fixtures/tiny.js';

let root: string;
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'oodkit-ckpt-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const meta = {
  kind: 'last',
  position: { epoch: 1, stepInEpoch: 3, globalStep: 9 },
  configHash: 'abc',
  seed: 1,
  network: { name: 'n', inputShape: [2, 2, 1], numClasses: 2, featureDim: 3 },
  trainer: { name: 't', step: 9, extra: { lr: 0.5 } },
  rng: {},
  bestValAccuracy: 0.5,
  bestEpoch: 0,
  history: [],
  createdAt: 'now',
} as const;

function sample(): Checkpoint {
  return {
    meta: meta as unknown as Checkpoint['meta'],
    variables: new Map([
      ['a', { dtype: 'float32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6.5]) }],
      ['odd', { dtype: 'int32', shape: [3], data: new Int32Array([-1, 7, 2147483647]) }],
    ]),
    slots: new Map([['m/a', { dtype: 'float32', shape: [6], data: new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) }]]),
  };
}

describe('checkpoint file', () => {
  it('round-trips tensors (incl. an odd-length one that needs padding), slots and metadata', async () => {
    const path = join(root, 'a.ckpt');
    await writeCheckpoint(path, sample());
    const back = await readCheckpoint(path);
    expect(back.meta).toEqual(meta);
    expect(Array.from(back.variables.get('a')!.data)).toEqual([1, 2, 3, 4, 5, 6.5]);
    expect(back.variables.get('a')!.shape).toEqual([2, 3]);
    expect(back.variables.get('odd')!.data).toBeInstanceOf(Int32Array);
    expect(Array.from(back.variables.get('odd')!.data)).toEqual([-1, 7, 2147483647]);
    expect(Array.from(back.slots.get('m/a')!.data)).toEqual(Array.from(new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])));
  });

  it('rejects a truncated file, a foreign file and a missing file with the path in the message', async () => {
    const path = join(root, 'b.ckpt');
    await writeCheckpoint(path, sample());
    const bytes = readFileSync(path);
    writeFileSync(join(root, 'cut.ckpt'), bytes.subarray(0, bytes.length - 8));
    await expect(readCheckpoint(join(root, 'cut.ckpt'))).rejects.toThrow(/cut\.ckpt: truncated checkpoint: slot 'm\/a'/);
    writeFileSync(join(root, 'foreign.ckpt'), 'hello world, not a checkpoint');
    await expect(readCheckpoint(join(root, 'foreign.ckpt'))).rejects.toThrow(/foreign\.ckpt: not an oodkit checkpoint/);
    await expect(readCheckpoint(join(root, 'none.ckpt'))).rejects.toBeInstanceOf(DataError);
    expect(() => decodeCheckpoint(Buffer.concat(encodeCheckpoint(sample())).subarray(0, 20), 'x')).toThrow(
      /x: truncated checkpoint header/,
    );
  });

  it('restores weights into a network and rejects a checkpoint of another architecture', async () => {
    const a = new TinyNet([4, 4, 1], 3, 1);
    const b = new TinyNet([4, 4, 1], 3, 2);
    expect(await weightsOf(a)).not.toEqual(await weightsOf(b));
    const vars = new Map(
      [...a.namedVariables()].map(([name, v]) => [name, { dtype: 'float32' as const, shape: v.shape, data: v.dataSync() as Float32Array }]),
    );
    restoreVariables(b, vars, 'mem');
    expect(await weightsOf(b)).toEqual(await weightsOf(a));
    const other = new TinyNet([4, 4, 1], 5, 1);
    expect(() => restoreVariables(other, vars, 'c.ckpt')).toThrow(
      /c\.ckpt: variable 'fc\.weight' has shape \[8, 3\] in the checkpoint, the network expects \[8, 5\]/,
    );
    const fewer = new Map(vars);
    fewer.delete('fc.bias');
    expect(() => restoreVariables(a, fewer, 'd.ckpt')).toThrow(/missing variables: fc\.bias/);
    for (const n of [a, b, other]) n.dispose();
  });
});
