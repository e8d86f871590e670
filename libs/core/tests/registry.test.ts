import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  RegistryError,
  componentModule,
  createOodkitContainer,
  defineComponent,
  registryOf,
  silentLogger,
  Rng,
} from '../src/index.js';

const scaled = defineComponent({
  kind: 'postprocessor',
  name: 'scaled_msp',
  description: 'test component',
  args: z.strictObject({ temperature: z.number().positive().default(1), topk: z.number().int().default(5) }),
  grid: { temperature: [1, 10] },
  create: (args) => ({ kind: 'scaled', ...args }),
});

const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };

describe('ComponentRegistry', () => {
  it('builds a component with defaults and validated args', async () => {
    const registry = registryOf(createOodkitContainer([componentModule('test-pkg', [scaled])]));
    expect(registry.names('postprocessor')).toEqual(['scaled_msp']);
    await expect(registry.build('postprocessor', { name: 'scaled_msp', args: { temperature: 2 } }, ctx)).resolves.toEqual({
      kind: 'scaled',
      temperature: 2,
      topk: 5,
    });
  });

  it('names registered components and the closest match for an unknown name', () => {
    const registry = registryOf(createOodkitContainer([componentModule('test-pkg', [scaled])]));
    expect(() => registry.get('postprocessor', 'scaled_mps')).toThrowError(
      /unknown postprocessor 'scaled_mps' \(did you mean 'scaled_msp'\?\); registered: scaled_msp/,
    );
  });

  it('reports every bad arg with its path and suggests the closest key', () => {
    const registry = registryOf(createOodkitContainer([componentModule('test-pkg', [scaled])]));
    const issues = registry.validate('postprocessor', { name: 'scaled_msp', args: { temprature: 2, topk: 'x' } }, 'postprocessor');
    expect(issues.map((i) => i.path).sort()).toEqual(['postprocessor.args.temprature', 'postprocessor.args.topk']);
    expect(issues.find((i) => i.path.endsWith('temprature'))!.message).toMatch(/did you mean 'temperature'/);
    expect(() => registry.resolveArgs('postprocessor', { name: 'scaled_msp', args: { topk: -1.5 } })).toThrow(ConfigError);
  });

  it('refuses a duplicate name and names both providers', () => {
    const container = createOodkitContainer([componentModule('pkg-a', [scaled]), componentModule('pkg-b', [scaled])]);
    expect(() => registryOf(container)).toThrowError(RegistryError);
    expect(() => registryOf(container)).toThrowError(/registered twice: by 'pkg-a' and by 'pkg-b'/);
  });
});

describe('Rng', () => {
  it('same seed and stream give the same draws; different streams differ', () => {
    const a = Rng.fromSeed(42).derive('data.shuffle');
    const b = Rng.fromSeed(42).derive('data.shuffle');
    const c = Rng.fromSeed(42).derive('init');
    const draws = (r: Rng) => Array.from({ length: 5 }, () => r.uniform());
    const da = draws(a);
    expect(da).toEqual(draws(b));
    expect(da).not.toEqual(draws(c));
  });

  it('restores from a saved state', () => {
    const r = Rng.fromSeed(7).derive('x');
    r.uniform();
    const saved = r.getState();
    const next = [r.uniform(), r.int(0, 100)];
    const restored = Rng.fromState(saved);
    expect([restored.uniform(), restored.int(0, 100)]).toEqual(next);
  });

  it('permutation is a permutation', () => {
    const p = Rng.fromSeed(1).permutation(1000);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});
