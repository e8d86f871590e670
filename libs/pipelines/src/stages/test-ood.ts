import { z } from 'zod';
import { buildPostprocessor, type PostprocessorReference } from '@oodkit/postprocessors';
import { ConfigError, Rng, defineComponent, saveResolvedConfig, type Postprocessor } from '@oodkit/core';
import { loadBenchmark } from '@oodkit/data';
import {
  FeatureFolder,
  FeatureFolderSource,
  NetworkSource,
  evaluateOod,
  evaluationToJson,
  apsGrid,
  featureSplitsSchema,
  writeOodEvaluation,
  type HyperparameterGrid,
  type FeatureSource,
} from '@oodkit/evaluators';
import { benchmarkRoles, benchmarkSplits, datasetBatches } from '../features/extract.js';
import { loadTrainedNetwork } from '../train/restore.js';
import { withRunFolder } from '../store/run-folder.js';
import { runDirOf, type RunnablePipeline } from './common.js';

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
 * the config's `postprocessor` on a checkpoint (through the network) or a feature folder.
 */
export const testOodPipeline = defineComponent({
  kind: 'pipeline',
  name: 'test_ood',
  description: "OOD metrics of the config's postprocessor on a checkpoint or a feature folder (tables, scores)",
  args: testOodArgs,
  create: (args, ctx): RunnablePipeline => ({
    async run(options = {}) {
      const logger = options.logger ?? ctx.logger;
      if (ctx.config.postprocessor === undefined)
        throw new ConfigError([{ path: 'postprocessor', message: 'test_ood needs a postprocessor: {name, args}' }]);
      const section = ctx.config.postprocessor;
      const postprocessor: Postprocessor = await buildPostprocessor(
        ctx.registry,
        (typeof section === 'string' ? { name: section } : section) as PostprocessorReference,
        { logger, rng: ctx.rng.derive('postprocessor'), config: ctx.config },
        'postprocessor',
      );
      let network: Awaited<ReturnType<typeof loadTrainedNetwork>>['network'] | undefined;
      try {
        let source: FeatureSource;
        let benchName = 'features';
        if (args.features !== undefined) {
          source = new FeatureFolderSource(await FeatureFolder.open(args.features));
        } else {
          network = (await loadTrainedNetwork(args.checkpoint!, ctx.registry, logger)).network;
          const bench = await loadBenchmark(ctx.config.benchmark, ctx.registry, { logger, rng: Rng.fromSeed(0), config: ctx.config });
          benchName = bench.config.name;
          const byName = new Map(benchmarkSplits(bench).map((s) => [s.name, s]));
          const roles = benchmarkRoles(bench);
          source = new NetworkSource(network, featureSplitsSchema.parse(roles), (name) => {
            const split = byName.get(name)!;
            return datasetBatches(split.dataset, bench.preprocess.test, args.batch_size, split.ood ? -1 : undefined);
          });
        }
        const out = runDirOf(ctx.config, `test_ood_${benchName}_${postprocessor.name}`);
        // The folder rule is applied before the scoring, so a refused folder costs no work.
        const evaluation = await withRunFolder(
          out,
          { what: 'test_ood', resume: options.resume, overwrite: options.overwrite, logger },
          async () => {
            const result = await evaluateOod({
              postprocessor,
              source,
              apsGrid: args.aps
                ? apsGrid(ctx.registry, postprocessor.name, (ctx.config.postprocessor as { grid?: HyperparameterGrid }).grid)
                : undefined,
              logger,
            });
            await writeOodEvaluation(out, result, { saveScores: args.save_scores });
            await saveResolvedConfig(out, ctx.config as Record<string, unknown>);
            return result;
          },
        );
        logger.info(`${postprocessor.name}: tables and scores in ${out}`);
        return evaluationToJson(evaluation);
      } finally {
        network?.dispose();
        postprocessor.dispose?.();
      }
    },
  }),
});
