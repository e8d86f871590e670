import { z } from 'zod';
import { defineComponent } from '@oodkit/core';
import { runEvaluationStage } from '../evaluation/run-evaluation.js';
import type { RunnablePipeline } from './common.js';

export const testOodArgs = z
  .strictObject({
    checkpoint: z.string().min(1).optional().describe('a trained checkpoint (features are extracted on the fly)'),
    features: z.string().min(1).optional().describe('a feature folder instead of a checkpoint (feature-only methods)'),
    aps: z.boolean().default(false).describe('hyperparameter search over the postprocessor grid (ID val vs OOD val)'),
    save_scores: z.boolean().default(true),
    batch_size: z.int().positive().default(500),
  })
  .refine((a) => (a.checkpoint === undefined) !== (a.features === undefined), { message: 'give exactly one of checkpoint or features' });

/**
 * OpenOOD's `test_ood`: postprocessor setup → optional APS → ID accuracy → near/far OOD metrics, for
 * the config's `postprocessor` on a checkpoint or a feature folder, through the one evaluation path.
 */
export const testOodPipeline = defineComponent({
  kind: 'pipeline',
  name: 'test_ood',
  description: "OOD metrics of the config's postprocessor on a checkpoint or a feature folder (tables, scores)",
  args: testOodArgs,
  create: (args, ctx): RunnablePipeline => ({
    async run(options = {}) {
      const result = await runEvaluationStage(
        {
          source:
            args.features !== undefined ? { kind: 'features', folder: args.features } : { kind: 'trained', checkpoint: args.checkpoint! },
          all: false,
          aps: args.aps,
          saveScores: args.save_scores,
          batchSize: args.batch_size,
          featureBatchSize: args.features !== undefined ? undefined : 4096,
          what: 'test_ood',
          defaultFolder: ({ benchmark, postprocessor }) => `test_ood_${benchmark ?? 'features'}_${postprocessor}`,
        },
        ctx,
        options.logger ?? ctx.logger,
        { resume: options.resume, overwrite: options.overwrite },
      );
      return result.evaluations[0];
    },
  }),
});
