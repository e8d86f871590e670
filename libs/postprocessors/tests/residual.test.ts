import { initCompute, tf } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { residualDefinition, ResidualPostprocessor } from '../src/postprocessors/residual.js';
import { layer, split } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('residual', () => {
  // As in the vim test: u = (−1, 2, 0), val = u + (±3, ±2, ±0.5): second moment diag(9, 4, 0.25).
  const val: number[] = [];
  for (const s1 of [1, -1]) for (const s2 of [1, -1]) for (const s3 of [1, -1]) val.push(-1 + 3 * s1, 2 + 2 * s2, 0.5 * s3);
  const fl = layer([1, 0, 0, 0, 1, 0], [1, -2], 2, 3);

  it('closed form: −‖(z − u)·N‖ for dim = 2 and dim = 1; default 512 ≥ D falls back to ⌊D/2⌋', async () => {
    const pp = new ResidualPostprocessor(residualDefinition.args, residualDefinition.args.parse({}));
    await pp.setup({ finalLayer: fl }, { val: split('val', val, Array(8).fill(0), 3) });
    const zs = [
      [0.5, 1, 2],
      [-3, 4, -1],
    ];
    const q = tf.tensor2d(zs.flat(), [2, 3]);
    let r = await pp.score({ features: q });
    zs.forEach((z, i) => expect(r.conf[i]).toBeCloseTo(-Math.hypot(z[1] - 2, z[2]), 5));
    await pp.setHyperparameters({ dim: 2 });
    r = await pp.score({ features: q });
    zs.forEach((z, i) => expect(r.conf[i]).toBeCloseTo(-Math.abs(z[2]), 5));
    expect(Array.from(r.pred)).toEqual([0, 1]);
    q.dispose();
    pp.dispose();
    await expect(new ResidualPostprocessor(residualDefinition.args, { dim: 1 }).setup({ finalLayer: fl }, {})).rejects.toThrow(/val/);
  });
});
