import { initCompute, tf } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { vraDefinition, VraPostprocessor } from '../src/postprocessors/vra.js';
import { layer, split } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('vra', () => {
  // val activations 0..9 flattened: np.percentile → 10th = 0.9, 90th = 8.1, 50th = 4.5
  const val = split('val', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 1, 0, 1, 0], 2);
  const fl = layer([1, 0, 0, 1], [0, 0.5], 2, 2);
  const lse = (a: number, b: number) => Math.log(Math.exp(a) + Math.exp(b));

  it('clips into [p_low, p_high] of val activations and scores the energy; thresholds follow hyperparameters', async () => {
    const pp = new VraPostprocessor(vraDefinition.args, vraDefinition.args.parse({}));
    await pp.setup({ finalLayer: fl }, { val });
    expect(pp.thresholds.low).toBeCloseTo(0.9, 12);
    expect(pp.thresholds.high).toBeCloseTo(8.1, 12);
    const q = tf.tensor2d([10, -1, 3, 4], [2, 2]);
    let r = await pp.score({ features: q });
    expect(r.conf[0]).toBeCloseTo(lse(8.1, 0.9 + 0.5), 5);
    expect(r.conf[1]).toBeCloseTo(lse(3, 4.5), 5);
    expect(Array.from(r.pred)).toEqual([0, 1]);
    await pp.setHyperparameters({ percentile_high: 50, percentile_low: 1 });
    expect(pp.thresholds.high).toBeCloseTo(4.5, 12);
    expect(pp.thresholds.low).toBeCloseTo(0.09, 12);
    r = await pp.score({ features: q });
    expect(r.conf[0]).toBeCloseTo(lse(4.5, 0.09 + 0.5), 5);
    await expect(pp.setHyperparameters({ percentile_high: 5, percentile_low: 10 })).rejects.toThrow(/percentile_low/);
    q.dispose();
    pp.dispose();
  });

  it('needs the ID val split', async () => {
    const pp = new VraPostprocessor(vraDefinition.args, vraDefinition.args.parse({}));
    await expect(pp.setup({ finalLayer: fl }, {})).rejects.toThrow(/val/);
  });
});
