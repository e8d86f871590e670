import { z } from 'zod';
import { ConfigError, defineComponent } from '@oodkit/core';
import { runTraining, trainSectionSchema } from '../train/pipeline.js';
import type { RunnablePipeline } from './common.js';

/**
 * OpenOOD's `train_oe`: the train pipeline with an outlier-exposure loader. Same loop as `train`;
 * this name insists on an outlier dataset (train.outlier) so a misconfigured OE run fails up front.
 */
export const trainOePipeline = defineComponent({
  kind: 'pipeline',
  name: 'train_oe',
  description: 'train with an outlier stream (train.outlier) for the OE family (oe, mixoe); the ID stream may be SIO',
  args: z.strictObject({}),
  create: (_args, ctx): RunnablePipeline => {
    const train = trainSectionSchema.parse(ctx.config.train);
    if (!train.outlier) throw new ConfigError([{ path: 'train.outlier', message: 'train_oe needs an outlier dataset {name, args}' }]);
    return {
      run: (options = {}) =>
        runTraining(ctx.config, {
          registry: ctx.registry,
          logger: options.logger ?? ctx.logger,
          resume: options.resume,
          overwrite: options.overwrite,
        }),
    };
  },
});
