import { describe, expect, it } from 'vitest';
import { createOodkitContainer, registryOf } from '@oodkit/core';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { trainersModule } from '@oodkit/trainers';
import { benchPostprocessors, benchSectionSchema, validateBenchSection } from '../src/benchmark/bench-section.js';

const registry = registryOf(createOodkitContainer([postprocessorsModule, trainersModule]));

describe('bench.postprocessors entries {name, args, grid}', () => {
  it('carry their grid to the run plan; entries without one use the built-in grid', () => {
    const section = benchSectionSchema.parse({
      postprocessors: ['msp', { name: 'vim', grid: { dim: [21, 42, 63] } }, { name: 'knn', args: { K: 5 }, aps: false }],
    });
    expect(validateBenchSection(section, registry)).toEqual([]);
    const plan = benchPostprocessors(section);
    expect(plan.map((p) => [p.name, p.grid, p.aps])).toEqual([
      ['msp', undefined, true],
      ['vim', { dim: [21, 42, 63] }, true],
      ['knn', undefined, false],
    ]);
  });

  it('grid keys and values are checked against the method, and a grid with APS off is an error', () => {
    const issues = validateBenchSection(
      {
        postprocessors: [
          { name: 'vim', grid: { dimm: [21] } },
          { name: 'knn', grid: { K: [0, 5] } },
          { name: 'ebo', grid: { temperature: [1, 10] }, aps: false },
        ],
      },
      registry,
    );
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      expect.stringMatching(/^bench\.postprocessors\.0\.grid\.dimm: unknown argument 'dimm' \(did you mean 'dim'\?\)/),
      expect.stringMatching(/^bench\.postprocessors\.1\.grid\.K\.0: 0 is not a valid value of 'K' for knn/),
      expect.stringMatching(/^bench\.postprocessors\.2\.grid: a grid is searched only with APS/),
    ]);
  });
});
