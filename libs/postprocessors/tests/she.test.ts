import { initCompute, tf } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { sheDefinition, ShePostprocessor } from '../src/postprocessors/she.js';
import { layer, split } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('she', () => {
  // W = I: pred = argmax z. Train (2,0)/0, (0,3)/1, (4,0)/0 correct; (5,1)/1 is misclassified and excluded.
  const fl = layer([1, 0, 0, 1], [0, 0], 2, 2);
  const train = split('train', [2, 0, 0, 3, 4, 0, 5, 1], [0, 1, 0, 1], 2);

  it('patterns are means of correctly classified train samples; all three metrics by hand', async () => {
    const pp = new ShePostprocessor(sheDefinition.args, sheDefinition.args.parse({}));
    await pp.setup({ finalLayer: fl }, { train });
    const q = tf.tensor2d([1, 2, 2, 1], [2, 2]);
    let r = await pp.score({ features: q });
    // patterns: class 0 → (3, 0), class 1 → (0, 3)
    expect(Array.from(r.pred)).toEqual([1, 0]);
    expect(r.conf[0]).toBeCloseTo(6, 6);
    expect(r.conf[1]).toBeCloseTo(6, 6);
    await pp.setHyperparameters({ metric: 'euclidean' });
    r = await pp.score({ features: q });
    expect(r.conf[0]).toBeCloseTo(-Math.SQRT2, 6);
    expect(r.conf[1]).toBeCloseTo(-Math.SQRT2, 6);
    await pp.setHyperparameters({ metric: 'cosine' });
    r = await pp.score({ features: q });
    expect(r.conf[0]).toBeCloseTo(6 / (Math.sqrt(5) * 3), 6);
    q.dispose();
    pp.dispose();
  });

  it('a class with no correctly classified train sample is a clear error', async () => {
    const pp = new ShePostprocessor(sheDefinition.args, sheDefinition.args.parse({}));
    await expect(pp.setup({ finalLayer: fl }, { train: split('train', [2, 0, 5, 1], [0, 1], 2) })).rejects.toThrow(/class 1/);
    await expect(pp.setHyperparameters({ metric: 'manhattan' })).rejects.toThrow(/metric/);
  });
});
