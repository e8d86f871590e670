import { componentSection, isPlainObject, type ConfigSection } from '@oodkit/core';
import { z } from 'zod';
import { parseGrid, validateGrid } from '../lifecycle/grid.js';
import { configuredNetworkLayers, layeredKeys, validateLayered } from '../lifecycle/layered.js';

const KEY = 'postprocessor';

/** `{name, args, grid, ...}` → the section without the grid (the plain section checks the rest), and the grid. */
function splitGrid(value: unknown): { section: unknown; grid: unknown } {
  if (!isPlainObject(value) || !('grid' in value)) return { section: value, grid: undefined };
  const { grid, ...section } = value;
  return { section, grid };
}

// `grid` as an extra key of the component reference: overrides (`--postprocessor.grid.K=[...]`, `--grid.K`)
// are typed by this schema; `validate` below checks each list against the named method's args.
const plain = componentSection(
  KEY,
  'postprocessor',
  'the OOD scoring method; `grid:` sets the values its hyperparameter search tries (OpenOOD: postprocessor_sweep)',
  {
    extra: {
      grid: z
        .record(z.string(), z.array(z.unknown()))
        .optional()
        .describe("values APS tries per argument, replacing the built-in lists of those arguments (OpenOOD's postprocessor_sweep)"),
      ...layeredKeys,
    },
  },
);

/**
 * The `postprocessor:` section: `{name, args, grid}`, where `grid` maps argument names of the named
 * method to the lists of values APS tries (first argument varying fastest), replacing the method's
 * built-in grid. Each key and value is checked against the method's args schema.
 */
export const postprocessorConfigSection: ConfigSection = {
  ...plain,
  validate(value, ctx) {
    const { section, grid } = splitGrid(value);
    const issues = plain.validate(section, ctx);
    const name = isPlainObject(section) ? section.name : undefined;
    if (isPlainObject(section)) {
      issues.push(...validateLayered(ctx.registry, section, KEY, configuredNetworkLayers(ctx.registry, ctx.config.network)));
    }
    if (grid !== undefined && typeof name === 'string' && ctx.registry.has('postprocessor', name)) {
      issues.push(...validateGrid(grid, ctx.registry.get('postprocessor', name).args, name, `${KEY}.grid`));
    }
    return issues;
  },
  complete(value, ctx) {
    const { section, grid } = splitGrid(value);
    const done = plain.complete
      ? (plain.complete(section, ctx) as Record<string, unknown> | undefined)
      : (section as Record<string, unknown>);
    if (grid === undefined || grid === null || done === undefined) return done;
    const name = done.name as string;
    return { ...done, grid: parseGrid(grid, ctx.registry.get('postprocessor', name).args, name, `${KEY}.grid`) };
  },
};
