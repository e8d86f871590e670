import { z } from 'zod';
import { Rng, defineComponent, saveResolvedConfig } from '@oodkit/core';
import { loadBenchmark } from '@oodkit/data';
import { writeBenchmarkFeatures } from '../features/extract.js';
import { loadTrainedNetwork } from '../train/restore.js';
import { runDirOf, type RunnablePipeline } from './common.js';

export const featExtractArgs = z.strictObject({
  checkpoint: z.string().min(1).describe('a .ckpt written by the train pipeline'),
  batch_size: z.int().positive().default(1000),
});

/** OpenOOD's `feat_extract`: every benchmark split through the network into a feature folder. */
export const featExtractPipeline = defineComponent({
  kind: 'pipeline',
  name: 'feat_extract',
  description: 'write a feature folder (features of every benchmark split + final layer) from a checkpoint',
  args: featExtractArgs,
  create: (args, ctx): RunnablePipeline => ({
    async run(options = {}) {
      const logger = options.logger ?? ctx.logger;
      const { network } = await loadTrainedNetwork(args.checkpoint, ctx.registry, logger);
      try {
        const bench = await loadBenchmark(ctx.config.benchmark, ctx.registry, { logger, rng: Rng.fromSeed(0), config: ctx.config });
        const out = runDirOf(ctx.config, `features_${bench.config.name}`);
        const written = await writeBenchmarkFeatures(network, bench, out, { batchSize: args.batch_size });
        await saveResolvedConfig(out, ctx.config as Record<string, unknown>);
        logger.info(`feature folder ${out}: ${written.splits.map((s) => `${s.name} ${s.count}`).join(', ')}`);
        return { out, ...written };
      } finally {
        network.dispose();
      }
    },
  }),
});
