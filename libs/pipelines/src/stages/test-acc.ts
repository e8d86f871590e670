import { join } from 'node:path';
import { z } from 'zod';
import { defineComponent, saveResolvedConfig, writeFileAtomic } from '@oodkit/core';
import { evaluateAccuracy } from '../train/loop.js';
import { withRunFolder } from '../store/run-folder.js';
import { checkpointArgs, runDirOf, withTrainedNetwork, type RunnablePipeline } from './common.js';

export const testAccArgs = z.strictObject({ ...checkpointArgs, batch_size: z.int().positive().default(500) });

/** OpenOOD's `test_acc`: classification accuracy of a checkpoint on the benchmark's ID test split. */
export const testAccPipeline = defineComponent({
  kind: 'pipeline',
  name: 'test_acc',
  description: "ID test accuracy of a trained checkpoint on the config's benchmark",
  args: testAccArgs,
  create: (args, ctx): RunnablePipeline => ({
    run: (options = {}) => {
      const logger = options.logger ?? ctx.logger;
      return withTrainedNetwork(ctx, args.checkpoint, logger, async (network, bench) => {
        const out = runDirOf(ctx.config, `test_acc_${bench.config.name}`);
        const result = await withRunFolder(
          out,
          { what: 'test_acc', resume: options.resume, overwrite: options.overwrite, logger },
          async () => {
            const test = { dataset: bench.id.test, preprocess: bench.preprocess.test, batchSize: args.batch_size };
            const accuracy = await evaluateAccuracy(network, test, ctx.rng.derive('test_acc'));
            const measured = {
              benchmark: bench.config.name,
              split: bench.id.test.name,
              count: bench.id.test.length,
              accuracy: 100 * accuracy,
              checkpoint: args.checkpoint,
            };
            await saveResolvedConfig(out, ctx.config as Record<string, unknown>);
            await writeFileAtomic(join(out, 'test_acc.json'), `${JSON.stringify(measured, null, 2)}\n`);
            return measured;
          },
        );
        logger.info(`test accuracy ${result.accuracy.toFixed(2)} % on ${result.split} → ${out}`);
        return result;
      });
    },
  }),
});
