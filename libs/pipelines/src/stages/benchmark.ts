import { z } from 'zod';
import { defineComponent } from '@oodkit/core';
import { runBenchmarkSet } from '../benchmark/run-benchmark.js';
import { runSafetyOptions, type RunnablePipeline } from './common.js';

/** The matrix of the `bench:` section as a pipeline (`oodkit bench` is this with default files). */
export const benchmarkPipeline = defineComponent({
  kind: 'pipeline',
  name: 'benchmark',
  description:
    'trainers × {baseline, +SIO} × seeds × postprocessors over one benchmark or each of bench.benchmarks (the bench: section); cached, resumable',
  args: z.strictObject({}),
  create: (_args, ctx): RunnablePipeline => ({
    run: (options = {}) =>
      runBenchmarkSet(ctx.config as Record<string, unknown>, {
        ...runSafetyOptions(options),
        registry: ctx.registry,
        logger: options.logger ?? ctx.logger,
        onEvent: options.onEvent,
        resume: options.resume,
        overwrite: options.overwrite,
      }),
  }),
});
