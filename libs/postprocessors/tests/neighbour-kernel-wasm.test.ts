import { initCompute } from '@oodkit/compute';
import { createOodkitContainer, registryOf, type ScoreResult } from '@oodkit/core';
import { describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { RelationPostprocessor } from '../src/postprocessors/relation.js';
import { expectClose, referenceScorer } from './math-fixtures.js';

/**
 * The neighbour-search methods with oodkit's fused wasm kernels (NeighbourBank, relation) against
 * the numpy/faiss reference of OpenOOD's formulas (fixtures/feature-methods-reference.json) and
 * against the same methods on the cpu backend (the tfjs path).
 */
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const { ref, score } = referenceScorer('feature-methods-reference.json', registry);

async function scoreOn(backend: 'cpu' | 'wasm', name: string, args: Record<string, unknown>): Promise<ScoreResult> {
  const info = await initCompute({ backend, env: {} });
  expect(info.backend).toBe(backend);
  const { pp, result } = await score(name, args);
  pp.dispose?.();
  return result;
}

describe('neighbour methods on the wasm kernels', () => {
  const cases: [string, Record<string, unknown>, string | undefined][] = [
    ['knn', { K: 1 }, 'knn_K1'],
    ['knn', { K: 10 }, 'knn_K10'],
    ['knn', { K: 50 }, 'knn_K50'],
    ['relation', { pow: 1 }, 'relation_pow1'],
    ['relation', { pow: 2 }, 'relation_pow2'],
    ['nnguide', { K: 10, alpha: 1 }, 'nnguide_K10'],
    ['cider', { K: 5 }, undefined],
    ['npos', { K: 160 }, undefined],
    ['dknn', { K: 7 }, undefined],
  ];
  it.each(cases)('%s %j agrees with the reference and the cpu backend', async (name, args, key) => {
    const wasm = await scoreOn('wasm', name, args);
    const cpu = await scoreOn('cpu', name, args);
    if (key) expectClose(wasm.conf, ref.expected[key]!, 2e-5);
    expectClose(wasm.conf, cpu.conf, 2e-5);
    expect(Array.from(wasm.pred)).toEqual(Array.from(cpu.pred));
  });

  it('relation with a non-integer pow falls back to the tfjs path on wasm and matches the cpu backend', async () => {
    await initCompute({ backend: 'wasm', env: {} });
    const fallback = await score('relation', { pow: 1.5 });
    const tfjs = await scoreOn('cpu', 'relation', { pow: 1.5 });
    expectClose(fallback.result.conf, tfjs.conf, 2e-5);
    expect(fallback.pp).toBeInstanceOf(RelationPostprocessor);
    fallback.pp.dispose?.();
  });
});
