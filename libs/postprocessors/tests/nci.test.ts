import { initCompute, tf } from '@oodkit/compute';
import { beforeAll, describe, expect, it } from 'vitest';
import { nciDefinition, NciPostprocessor } from '../src/postprocessors/nci.js';
import { layer, split } from './feature-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

// W rows (1,0), (0,1), (0,0), b = 0; train mean μ = (2, 1). Query z = (2, 3): logits (2, 3, 0), pred 1.
const fl = layer([1, 0, 0, 1, 0, 0], [0, 0, 0], 3, 2);
const train = split('train', [1, 1, 3, 1], [0, 1], 2);

describe('nci', () => {
  it('hand case: ⟨w_pred, z − μ⟩/‖z − μ‖ + α‖z‖₁ for every alpha of the grid', async () => {
    const pp = new NciPostprocessor(nciDefinition.args, nciDefinition.args.parse({}));
    await pp.setup({ finalLayer: fl }, { train });
    const q = tf.tensor2d([2, 3, -1, 1], [2, 2]);
    for (const alpha of nciDefinition.grid!.alpha!) {
      await pp.setHyperparameters({ alpha });
      const r = await pp.score({ features: q });
      expect(Array.from(r.pred)).toEqual([1, 1]);
      // z − μ = (0, 2): ⟨(0,1),(0,2)⟩/2 = 1;  (−3, 0): 0/3 = 0
      expect(r.conf[0]).toBeCloseTo(1 + alpha * 5, 6);
      expect(r.conf[1]).toBeCloseTo(0 + alpha * 2, 6);
    }
    q.dispose();
    pp.dispose();
  });
});
