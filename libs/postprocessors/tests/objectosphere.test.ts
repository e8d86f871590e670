import { initCompute } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { objectosphereArgs, ObjectospherePostprocessor } from '../src/postprocessors/objectosphere.js';
import { argmax64, expectClose, finalLayer, fitAndScore, logits64, softmax64 } from './math-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const layer = finalLayer(
  [
    [1, 0, -1],
    [0.5, 2, 0],
    [-1, 1, 1],
  ],
  [0.1, -0.2, 0],
);

describe('objectosphere', () => {
  it('conf = max softmax(ℓ)·‖ℓ‖₂, pred = argmax; a scaled-down logit vector scores lower at the same argmax', async () => {
    const rows = [
      [1, 2, 3],
      [-1, 0.5, 2],
      [0.1, 0.2, 0.3],
    ];
    const pp = new ObjectospherePostprocessor(objectosphereArgs, objectosphereArgs.parse({}));
    const r = await fitAndScore(pp, { finalLayer: layer }, {}, rows);
    const l = rows.map((z) => logits64(layer, z));
    expectClose(
      Array.from(r.conf),
      l.map((v) => Math.max(...softmax64(v)) * Math.hypot(...v)),
    );
    expect(Array.from(r.pred)).toEqual(l.map(argmax64));
    expect(r.conf[2]).toBeLessThan(r.conf[0]!); // z/10 (up to the bias): smaller magnitude, lower score
  });
});
