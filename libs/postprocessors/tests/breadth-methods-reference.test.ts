import { initCompute } from '@oodkit/compute';
import { createOodkitContainer, registryOf } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import { expectClose, referenceScorer } from './math-fixtures.js';

/**
 * Agreement with torch ports of pytorch-ood's detectors (fixtures/breadth_methods_reference.py →
 * fixtures/breadth-methods-reference.json, torch 1.13 float32): 160 train / 60 val / 40 test, D = 8, C = 4.
 */
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const { ref, score } = referenceScorer('breadth-methods-reference.json', registry);

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('pytorch-ood detectors: agreement with the torch reference', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['entropy', 'entropy', {}],
    ['weighted_ebo', 'weighted_ebo', { weights: [0.5, -0.3, 2.0, 1.0] }],
    ['lts_p0.05', 'lts', { p: 0.05 }],
    ['lts_p0.3', 'lts', { p: 0.3 }],
    ['lts_p0.3125', 'lts', { p: 0.3125 }],
    ['lts_p0.5', 'lts', { p: 0.5 }],
    ['caref', 'caref', {}],
    ['cadref_energy', 'cadref', { logit_score: 'energy' }],
    ['cadref_mls', 'cadref', { logit_score: 'mls' }],
    ['cadref_msp', 'cadref', { logit_score: 'msp' }],
    ['cadref_gen', 'cadref', { logit_score: 'gen' }],
    ['pnml', 'pnml', {}],
  ];
  it.each(cases)('%s', async (key, name, args) => {
    const { pp, result } = await score(name, args);
    expectClose(result.conf, ref.expected[key]!, 2e-5);
    expect(Array.from(result.pred)).toEqual(ref.expected['pred']);
    pp.dispose?.();
  });
});
