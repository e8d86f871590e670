import { z } from 'zod';
import { defineComponent, saveResolvedConfig } from '@oodkit/core';
import { writeBenchmarkFeatures } from '../features/extract.js';
import { withRunFolder } from '../store/run-folder.js';
import { checkpointArgs, runDirOf, withTrainedNetwork, type RunnablePipeline } from './common.js';

export const featExtractArgs = z.strictObject({
  ...checkpointArgs,
  batch_size: z.int().positive().default(1000),
  layers: z
    .array(z.string().min(1))
    .default([])
    .describe(
      "extra feature layers to write, globally average-pooled (names from `oodkit list network`, e.g. layer3); z ('penultimate') is always written",
    ),
});

/** OpenOOD's `feat_extract`: every benchmark split through the network into a feature folder. */
export const featExtractPipeline = defineComponent({
  kind: 'pipeline',
  name: 'feat_extract',
  description: 'write a feature folder (features of every benchmark split + final layer) from a checkpoint',
  args: featExtractArgs,
  create: (args, ctx): RunnablePipeline => ({
    run: (options = {}) => {
      const logger = options.logger ?? ctx.logger;
      return withTrainedNetwork(ctx, args.checkpoint, logger, async (network, bench) => {
        const out = runDirOf(ctx.config, `features_${bench.config.name}`);
        return withRunFolder(out, { what: 'feature', resume: options.resume, overwrite: options.overwrite, logger }, async () => {
          const written = await writeBenchmarkFeatures(network, bench, out, { batchSize: args.batch_size, layers: args.layers });
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
