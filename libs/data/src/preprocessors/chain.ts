import { z } from 'zod';
import type { BuildContext } from '@oodkit/core';
import { componentSectionSchema } from '../datasets/section.js';
import type { Preprocessor } from './types.js';

/** `preprocessor: {train: [...], test: [...]}`: each a list of `{name, args}` applied in order. */
export const preprocessorSectionSchema = z.strictObject({
  train: z.array(componentSectionSchema).default([]),
  test: z.array(componentSectionSchema).default([]),
});
export type PreprocessorSection = z.infer<typeof preprocessorSectionSchema>;

export async function buildChain(
  sections: readonly { name: string; args?: Record<string, unknown> }[],
  ctx: BuildContext,
  path: string,
): Promise<Preprocessor[]> {
  const chain: Preprocessor[] = [];
  for (let i = 0; i < sections.length; i++) {
    chain.push(
      await ctx.registry.build<Preprocessor>(
        'preprocessor',
        sections[i],
        { logger: ctx.logger, rng: ctx.rng, config: ctx.config },
        `${path}.${i}`,
      ),
    );
  }
  return chain;
}
