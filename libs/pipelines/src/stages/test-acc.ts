import { join } from 'node:path';
import { z } from 'zod';
import { Rng, defineComponent, saveResolvedConfig, writeFileAtomic } from '@oodkit/core';
import { loadBenchmark } from '@oodkit/data';
import { chainPreprocess } from '../train/data.js';
import { evaluateAccuracy } from '../train/loop.js';
import { loadTrainedNetwork } from '../train/restore.js';
import { runDirOf, type RunnablePipeline } from './common.js';

export const testAccArgs = z.strictObject({
  checkpoint: z.string().min(1).describe('a .ckpt written by the train pipeline'),
  batch_size: z.int().positive().default(500),
});

/** OpenOOD's `test_acc`: classification accuracy of a checkpoint on the benchmark's ID test split. */
export const testAccPipeline = defineComponent({
  kind: 'pipeline',
  name: 'test_acc',
  description: "ID test accuracy of a trained checkpoint on the config's benchmark",
  args: testAccArgs,
  create: (args, ctx): RunnablePipeline => ({
    async run(options = {}) {
      const logger = options.logger ?? ctx.logger;
      const { network } = await loadTrainedNetwork(args.checkpoint, ctx.registry, logger);
      try {
        const bench = await loadBenchmark(ctx.config.benchmark, ctx.registry, { logger, rng: Rng.fromSeed(0), config: ctx.config });
        const accuracy = await evaluateAccuracy(network, { dataset: bench.id.test, preprocess: chainPreprocess(bench.preprocess.test), batchSize: args.batch_size }, ctx.rng.derive('test_acc'));
        const out = runDirOf(ctx.config, `test_acc_${bench.config.name}`);
        await saveResolvedConfig(out, ctx.config as Record<string, unknown>);
        const result = { benchmark: bench.config.name, split: bench.id.test.name, count: bench.id.test.length, accuracy: 100 * accuracy, checkpoint: args.checkpoint };
        await writeFileAtomic(join(out, 'test_acc.json'), `${JSON.stringify(result, null, 2)}\n`);
        logger.info(`test accuracy ${result.accuracy.toFixed(2)} % on ${result.split} → ${out}`);
        return result;
      } finally {
        network.dispose();
      }
    },
  }),
});
