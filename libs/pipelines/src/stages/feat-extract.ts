import { z } from 'zod';
import { ConfigError, PENULTIMATE_LAYER, defineComponent, saveResolvedConfig } from '@oodkit/core';
import { writeBenchmarkFeatures } from '../features/extract.js';
import { withRunFolder } from '../store/run-folder.js';
import { runDirOf, type RunnablePipeline } from './common.js';
import { modelSourceArgs, modelSourceOf, withModelSource } from './model-source.js';

export const featExtractArgs = z.strictObject({
  ...modelSourceArgs,
  batch_size: z.int().positive().default(1000),
  layers: z
    .array(z.string().min(1))
    .default([])
    .describe(
      "extra feature layers to write, globally average-pooled (names from `oodkit list network`, e.g. layer3); z ('penultimate') is always written",
    ),
});

/** OpenOOD's `feat_extract`: every benchmark split through the model into a feature folder. */
export const featExtractPipeline = defineComponent({
  kind: 'pipeline',
  name: 'feat_extract',
  description: 'write a feature folder (features of every benchmark split + final layer) from a checkpoint, ONNX or tfjs model',
  args: featExtractArgs,
  create: (args, ctx): RunnablePipeline => ({
    run: (options = {}) => {
      const logger = options.logger ?? ctx.logger;
      const source = modelSourceOf(args);
      const extra = args.layers.filter((l) => l !== PENULTIMATE_LAYER);
      // An imported model is a trunk + final layer to oodkit: it names no blocks to pool.
      if (source.kind !== 'trained' && extra.length > 0)
        throw new ConfigError([
          {
            path: 'pipeline.args.layers',
            message: `extra feature layers (${extra.join(', ')}) need an oodkit checkpoint (--checkpoint): a ${source.kind} model (--${source.kind}) gives only logits and penultimate features`,
          },
        ]);
      return withModelSource(ctx, source, logger, async (model, bench) => {
        const out = runDirOf(ctx.config, `features_${bench.config.name}`);
        return withRunFolder(out, { what: 'feature', resume: options.resume, overwrite: options.overwrite, logger }, async () => {
          const written = await writeBenchmarkFeatures(model, bench, out, { batchSize: args.batch_size, layers: args.layers });
          await saveResolvedConfig(out, ctx.config as Record<string, unknown>);
          logger.info(
            `feature folder ${out}: ${written.splits.map((s) => `${s.name} ${s.count}`).join(', ')}; layers ${written.layers.join(', ')}`,
          );
          return { out, ...written };
        });
      });
    },
  }),
});
