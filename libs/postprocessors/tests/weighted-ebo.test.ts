import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCompute } from '@oodkit/compute';
import { writeNpy } from '@oodkit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightedEboArgs, WeightedEboPostprocessor } from '../src/postprocessors/weighted_ebo.js';
import { expectClose, finalLayer, fitAndScore, lse64 } from './math-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'oodkit-webo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const identity = finalLayer(
  [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ],
  [0, 0, 0],
);
const rows = [
  [1, 2, 3],
  [500, 0, -1], // exp(500) overflows float32: the max-shifted form stays finite
];
const make = (args: Record<string, unknown>) => new WeightedEboPostprocessor(weightedEboArgs, weightedEboArgs.parse(args));

describe('weighted_ebo', () => {
  it('conf = log Σ relu(w_c) e^ℓ_c: ones give the energy, negative weights drop their class', async () => {
    const ones = await fitAndScore(make({}), { finalLayer: identity }, {}, rows);
    expectClose(ones.conf, rows.map(lse64), 1e-6);
    const w = await fitAndScore(make({ weights: [2, -1, 0.5] }), { finalLayer: identity }, {}, rows);
    expectClose(w.conf, [Math.log(2 * Math.E + 0.5 * Math.exp(3)), Math.log(2) + 500 + Math.log1p(0.25 * Math.exp(-501))], 1e-6);
    expect(Array.from(w.pred)).toEqual([2, 0]);
  });
  it('reads the weights from .npy ([1, C] as VOS stores weight_energy) and rejects bad weights clearly', async () => {
    const file = join(dir, 'w.npy');
    await writeNpy(file, { data: new Float32Array([2, -1, 0.5]), shape: [1, 3] });
    const fromFile = await fitAndScore(make({ weights_file: file }), { finalLayer: identity }, {}, [rows[0]!]);
    expectClose(fromFile.conf, [Math.log(2 * Math.E + 0.5 * Math.exp(3))], 1e-6);
    await expect(make({ weights: [1, 2] }).setup({ finalLayer: identity }, {})).rejects.toThrow(/2 weights, the final layer has C = 3/);
    await expect(make({ weights: [0, -1, 0] }).setup({ finalLayer: identity }, {})).rejects.toThrow(/every weight is ≤ 0/);
    await expect(make({ weights: [1, 1, 1], weights_file: file }).setup({ finalLayer: identity }, {})).rejects.toThrow(/not both/);
    await writeNpy(join(dir, 'bad.npy'), { data: new Float32Array(6), shape: [2, 3] });
    await expect(make({ weights_file: join(dir, 'bad.npy') }).setup({ finalLayer: identity }, {})).rejects.toThrow(
      /bad\.npy: shape \[2, 3\]/,
    );
  });
});
