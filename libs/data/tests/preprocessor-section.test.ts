import { describe, expect, it } from 'vitest';
import { createOodkitContainer, registryOf } from '@oodkit/core';
import { dataModule, preprocessorConfigSection } from '../src/index.js';

describe('preprocessor config section', () => {
  const registry = registryOf(createOodkitContainer([dataModule]));
  const validate = (value: unknown) => preprocessorConfigSection.validate(value, { registry, config: {} });

  it('accepts train/test chains of registered preprocessors, or no section', () => {
    expect(
      validate({ train: [{ name: 'random_crop', args: { size: 28, padding: 4 } }, { name: 'normalize' }], test: [{ name: 'normalize' }] }),
    ).toEqual([]);
    expect(validate(undefined)).toEqual([]);
  });

  it('reports every unknown name and arg in one pass, with suggestions', () => {
    const issues = validate({ train: [{ name: 'normalise' }, { name: 'random_crop', args: { size: 28, paddin: 2 } }] });
    expect(issues.map((i) => i.path)).toEqual(['preprocessor.train.0.name', 'preprocessor.train.1.args.paddin']);
    expect(issues[0]!.message).toMatch(/did you mean 'normalize'/);
    expect(issues[1]!.message).toMatch(/did you mean 'padding'/);
  });

  it('refuses unknown roles', () => {
    expect(validate({ val: [] }).map((i) => i.path)).toEqual(['preprocessor.val']);
  });
});
