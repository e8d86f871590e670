import { join } from 'node:path';
import { z } from 'zod';
import { defineComponent, saveResolvedConfig, writeFileAtomic, type Classifier, type ComponentSection, type Rng } from '@oodkit/core';
import { tf } from '@oodkit/compute';
import { orderedBatches } from '@oodkit/data';
import { buildClassificationEvaluator, type ClassifierOutputs } from '@oodkit/evaluators';
import type { ValidationSet } from '../train/loop.js';
import { withRunFolder } from '../store/run-folder.js';
import { checkpointArgs, runDirOf, withTrainedNetwork, type RunnablePipeline } from './common.js';

export const testAccArgs = z.strictObject({ ...checkpointArgs, batch_size: z.int().positive().default(500) });

/** The network's logits on every sample of a labelled split, in dataset order, for the classification evaluators. */
export async function classifierOutputs(network: Classifier, set: ValidationSet, rng: Rng): Promise<ClassifierOutputs> {
  const { dataset, preprocess, batchSize } = set;
  const k = network.numClasses;
  const logits = new Float32Array(dataset.length * k);
  const labels = new Int32Array(dataset.length);
  for await (const batch of orderedBatches(dataset, { batchSize, preprocess, rng })) {
    try {
      const out = tf.tidy(() => network.forward(batch.x, false));
      const values = (await out.data()) as Float32Array;
      out.dispose();
      batch.indices.forEach((index, row) => {
        logits.set(values.subarray(row * k, (row + 1) * k), index * k);
        labels[index] = dataset.labels[index]!;
      });
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
  }
  return { split: dataset.name, logits, numClasses: k, labels };
}

/**
 * OpenOOD's `test_acc`: the configured classification evaluator (`evaluator:`, default `acc`; `ece`
 * adds the calibration error) on the logits of a checkpoint for the benchmark's ID test split.
 */
export const testAccPipeline = defineComponent({
  kind: 'pipeline',
  name: 'test_acc',
  description:
    "ID test accuracy (evaluator acc, per class) or calibration (evaluator ece) of a trained checkpoint on the config's benchmark",
  args: testAccArgs,
  create: (args, ctx): RunnablePipeline => ({
    run: async (options = {}) => {
      const logger = options.logger ?? ctx.logger;
      // Built first: a misconfigured evaluator fails before the checkpoint and the data are loaded.
      const evaluator = await buildClassificationEvaluator(
        ctx.registry,
        ctx.config.evaluator as ComponentSection | string | undefined,
        { logger: logger.child('evaluator'), rng: ctx.rng.derive('evaluator'), config: ctx.config },
        'test_acc',
      );
      return withTrainedNetwork(ctx, args.checkpoint, logger, async (network, bench) => {
        const out = runDirOf(ctx.config, `test_acc_${bench.config.name}`);
        const result = await withRunFolder(
          out,
          { what: 'test_acc', resume: options.resume, overwrite: options.overwrite, logger },
          async () => {
            const test = { dataset: bench.id.test, preprocess: bench.preprocess.test, batchSize: args.batch_size };
            const metrics = evaluator.evaluate(await classifierOutputs(network, test, ctx.rng.derive('test_acc')));
            const measured = {
              benchmark: bench.config.name,
              split: bench.id.test.name,
              count: bench.id.test.length,
              accuracy: 100 * metrics.accuracy,
              checkpoint: args.checkpoint,
              evaluator: evaluator.name,
              metrics,
            };
            await saveResolvedConfig(out, ctx.config as Record<string, unknown>);
            await writeFileAtomic(join(out, 'test_acc.json'), `${JSON.stringify(measured, null, 2)}\n`);
            return measured;
          },
        );
        const ece = typeof result.metrics.ece === 'number' ? `, ECE ${(100 * result.metrics.ece).toFixed(2)} %` : '';
        logger.info(`test accuracy ${result.accuracy.toFixed(2)} %${ece} on ${result.split} → ${out}`);
        return result;
      });
    },
  }),
});
