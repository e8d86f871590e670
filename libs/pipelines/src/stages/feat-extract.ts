import { z } from 'zod';
import { defineComponent, saveResolvedConfig } from '@oodkit/core';
import { writeBenchmarkFeatures } from '../features/extract.js';
import { withRunFolder } from '../store/run-folder.js';
import { runDirOf, type RunnablePipeline } from './common.js';
import { modelSourceArgs, modelSourceOf, withModelSource } from './model-source.js';

export const featExtractArgs = z.strictObject({ ...modelSourceArgs, batch_size: z.int().positive().default(1000) });

/** OpenOOD's `feat_extract`: every benchmark split through the model into a feature folder. */
export const featExtractPipeline = defineComponent({
  kind: 'pipeline',
  name: 'feat_extract',
  description: 'write a feature folder (features of every benchmark split + final layer) from a checkpoint, ONNX or tfjs model',
  args: featExtractArgs,
  create: (args, ctx): RunnablePipeline => ({
    run: (options = {}) => {
      const logger = options.logger ?? ctx.logger;
      return withModelSource(ctx, modelSourceOf(args), logger, async (model, bench) => {
        const out = runDirOf(ctx.config, `features_${bench.config.name}`);
        return withRunFolder(out, { what: 'feature', resume: options.resume, overwrite: options.overwrite, logger }, async () => {
          const written = await writeBenchmarkFeatures(model, bench, out, { batchSize: args.batch_size });
          await saveResolvedConfig(out, ctx.config as Record<string, unknown>);
          logger.info(`feature folder ${out}: ${written.splits.map((s) => `${s.name} ${s.count}`).join(', ')}`);
          return { out, ...written };
        });
      });
    },
  }),
});
