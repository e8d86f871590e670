import { initCompute } from '@oodkit/compute';
import { createOodkitContainer, registryOf, type Postprocessor } from '@oodkit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { postprocessorsModule } from '../src/module.js';
import type { TempScalingPostprocessor } from '../src/postprocessors/temp_scaling.js';
import { expectClose, referenceScorer } from './math-fixtures.js';

/**
 * Agreement with an independent numpy/scipy implementation of OpenOOD's formulas
 * (fixtures/logit_methods_reference.py → fixtures/logit-methods-reference.json): 120 train / 60 val / 40 test features,
 * D = 8, C = 4.
 */
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const { ref, score: fitAndScoreTest } = referenceScorer('logit-methods-reference.json', registry);

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

async function conf(name: string, args: Record<string, unknown> = {}): Promise<{ pp: Postprocessor; conf: Float64Array }> {
  const { pp, result } = await fitAndScoreTest(name, args);
  return { pp, conf: result.conf };
}

describe('agreement with the numpy/scipy reference', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['msp', 'msp', {}],
    ['mls', 'mls', {}],
    ['ebo', 'ebo', {}],
    ['gen_g0.5_M2', 'gen', { gamma: 0.5, M: 2 }],
    ['klm', 'klm', {}],
    ['mds', 'mds', {}],
    ['rmds', 'rmds', {}],
    ['react_p85', 'react', { percentile: 85 }],
    ['react_p90', 'react', { percentile: 90 }],
    ['ash_p65', 'ash', { percentile: 65 }],
    ['ash_p90', 'ash', { percentile: 90 }],
    ['scale_p65', 'scale', { percentile: 65 }],
    ['scale_p90', 'scale', { percentile: 90 }],
    ['dice_p50', 'dice', { p: 50 }],
    ['dice_p90', 'dice', { p: 90 }],
    ['temp_scaling_optimum', 'temp_scaling', { fit: 'optimum' }],
  ];
  it.each(cases)('%s', async (key, name, args) => {
    const { pp, conf: c } = await conf(name, args);
    expectClose(c, ref.expected[key], 2e-5);
    if (name === 'temp_scaling') expect((pp as TempScalingPostprocessor).temperature).toBeCloseTo(ref.expected['temp_scaling_T'][0], 4);
    pp.dispose?.();
  });
});
