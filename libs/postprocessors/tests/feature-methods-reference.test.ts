import { initCompute } from '@oodkit/compute';
import { createOodkitContainer, registryOf, type ScoreResult } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { expectClose, referenceScorer } from './math-fixtures.js';

/**
 * Agreement with an independent numpy/scipy/sklearn implementation of OpenOOD v1.5's formulas
 * (fixtures/feature_methods_reference.py → fixtures/feature-methods-reference.json): 160 train / 60 val / 40 test, D = 8, C = 4.
 */
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const { ref, score: fitAndScoreTest } = referenceScorer('feature-methods-reference.json', registry);

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

async function score(name: string, args: Record<string, unknown>): Promise<ScoreResult> {
  const { pp, result } = await fitAndScoreTest(name, args);
  pp.dispose?.();
  return result;
}

describe('feature-space methods: agreement with the numpy/scipy/sklearn reference', () => {
  const cases: [string, string, Record<string, unknown>, number][] = [
    // energy − α·residual cancels (terms ~5, result ~0.7): float32 rounding of the terms shows at ~3e-5.
    ['vim_dim3', 'vim', { dim: 3 }, 5e-5],
    ['vim_dim6', 'vim', { dim: 6 }, 5e-5],
    ['residual_dim3', 'residual', { dim: 3 }, 2e-5],
    ['residual_dim6', 'residual', { dim: 6 }, 2e-5],
    ['knn_K1', 'knn', { K: 1 }, 2e-5],
    ['knn_K10', 'knn', { K: 10 }, 2e-5],
    ['knn_K50', 'knn', { K: 50 }, 2e-5],
    ['she', 'she', {}, 2e-5],
    ['openmax', 'openmax', {}, 2e-5],
    ['relation_pow1', 'relation', { pow: 1 }, 2e-5],
    ['relation_pow2', 'relation', { pow: 2 }, 2e-5],
    ['nnguide_K10', 'nnguide', { K: 10, alpha: 1 }, 2e-5],
    ['nnguide_ordered_K10', 'nnguide', { K: 10, alpha: 0.5, bank_batch_size: 32 }, 2e-5],
    ['fdbd_dist', 'fdbd', { distance_as_normalizer: true }, 2e-5],
    ['fdbd_norm', 'fdbd', { distance_as_normalizer: false }, 2e-5],
    ['nci_a0.001', 'nci', { alpha: 0.001 }, 2e-5],
    ['vra', 'vra', {}, 2e-5],
  ];
  it.each(cases)('%s', async (key, name, args, tol) => {
    const r = await score(name, args);
    expectClose(r.conf, ref.expected[key], tol);
    expect(Array.from(r.pred)).toEqual(ref.expected[name === 'openmax' ? 'openmax_pred' : 'pred']);
  });
});
