import { initCompute } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { mcDropoutArgs, McDropoutPostprocessor } from '../src/postprocessors/mc_dropout.js';
import { expectClose, finalLayer, fitAndScore, logits64, softmax64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const make = (args: Record<string, unknown>, seed = 0) =>
  new McDropoutPostprocessor(mcDropoutArgs, mcDropoutArgs.parse(args), Rng.fromSeed(seed));

describe('mc_dropout', () => {
  it('p = 0 is msp exactly', async () => {
    const layer = finalLayer(
      [
        [1, -1, 0.5],
        [0.2, 0.3, -0.7],
      ],
      [0.1, 0],
    );
    const rows = [
      [1, 2, 3],
      [-1, 0.5, 2],
    ];
    const r = await fitAndScore(make({ dropout_p: 0 }), { finalLayer: layer }, {}, rows);
    expectClose(
      r.conf,
      rows.map((z) => Math.max(...softmax64(logits64(layer, z)))),
      1e-6,
    );
  });
  it('averages the logits (not the probabilities) of passes that keep z with scale 1/(1 − p)', async () => {
    // logits = (z, 0) for a 1-D feature z = 1: each pass gives 0 or 1/(1 − p) = 2, the mean of four is
    // k/2 for k kept passes, conf = σ(k/2) — averaging probabilities would give other values
    const layer = finalLayer([[1], [0]], [0, 0]);
    const rows = Array.from({ length: 64 }, () => [1]);
    const r = await fitAndScore(make({ dropout_p: 0.5, dropout_times: 4 }), { finalLayer: layer }, {}, rows);
    const lattice = [0, 1, 2, 3, 4].map((k) => Math.max(1 / (1 + Math.exp(-k / 2)), 1 / (1 + Math.exp(k / 2))));
    const seen = new Set<number>();
    for (const c of r.conf) {
      const k = lattice.findIndex((v) => Math.abs(v - c) < 1e-6);
      expect(k, `conf ${c}`).toBeGreaterThanOrEqual(0);
      seen.add(k);
    }
    expect(seen.size).toBeGreaterThan(2); // the masks really vary between samples
  });
  it('the mean over many passes approaches msp; one seed gives one result, another a different one', async () => {
    const layer = finalLayer(
      [
        [1, -1],
        [0.5, 0.5],
      ],
      [0, 0],
    );
    const rows = [[0.8, -0.4]];
    const many = await fitAndScore(make({ dropout_p: 0.3, dropout_times: 500 }), { finalLayer: layer }, {}, rows);
    // dropout is unbiased on z and the head is linear: the mean logits converge to ℓ (std of the mean ≈ 0.025 here)
    expect(Math.abs(many.conf[0]! - Math.max(...softmax64(logits64(layer, rows[0]!))))).toBeLessThan(0.02);
    const a = await fitAndScore(make({}, 1), { finalLayer: layer }, {}, [rows[0]!, rows[0]!, rows[0]!]);
    const b = await fitAndScore(make({}, 1), { finalLayer: layer }, {}, [rows[0]!, rows[0]!, rows[0]!]);
    const c = await fitAndScore(make({}, 2), { finalLayer: layer }, {}, [rows[0]!, rows[0]!, rows[0]!]);
    expect(Array.from(b.conf)).toEqual(Array.from(a.conf));
    expect(Array.from(c.conf)).not.toEqual(Array.from(a.conf));
  });
});
