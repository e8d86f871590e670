import type { ScoreBatch, ScoreResult } from '@oodkit/core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { energyScore, scoreLogits } from '../math/softmax.js';

export const eboArgs = z.strictObject({
  temperature: z.number().positive().default(1).describe('T in T·logsumexp(ℓ/T)'),
});

/** Energy-based OOD (Liu et al. 2020): conf = T·logsumexp(ℓ/T), the negative free energy. */
export class EboPostprocessor extends BasePostprocessor<typeof eboArgs> {
  readonly name = 'ebo';

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const t = this.args.temperature;
    return scoreLogits(this.head.logits(this.features(batch)), (l) => energyScore(l, t));
  }
}

export const eboDefinition = definePostprocessor(
  {
    name: 'ebo',
    description: 'energy score T·logsumexp(logits/T)',
    args: eboArgs,
    grid: { temperature: [1] },
  },
  EboPostprocessor,
);
