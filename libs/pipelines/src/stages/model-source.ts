import { z } from 'zod';
import { ConfigError, Rng, UsageError, type BuildContext, type Logger } from '@oodkit/core';
import { loadBenchmark, type LoadedBenchmark } from '@oodkit/data';
import { openModel, type ModelSource } from '../evaluation/model-source.js';
import type { FeatureModel } from '../features/extract.js';

/**
 * Args of the stages that run a model over a benchmark: exactly one of `checkpoint`, `onnx`, `tfjs`,
 * plus the output names of an imported model.
 */
export const modelSourceArgs = {
  checkpoint: z.string().min(1).optional().describe('a .ckpt written by the train pipeline'),
  onnx: z.string().min(1).optional().describe('an ONNX model (e.g. from torch.onnx.export), run by onnxruntime-node; NCHW input'),
  tfjs: z.string().min(1).optional().describe('a tfjs model.json (LayersModel or GraphModel); NHWC input'),
  logits_output: z
    .string()
    .min(1)
    .optional()
    .describe('onnx: the graph value holding the logits; tfjs: the final Dense layer / MatMul node (default: the last linear layer)'),
  features_output: z
    .string()
    .min(1)
    .optional()
    .describe(
      'onnx: the graph value fed to the final layer; tfjs: the layer / node name of the penultimate feature (default: the final layer input)',
    ),
  threads: z.int().positive().optional().describe("onnx: onnxruntime's intra-op threads (default: onnxruntime's choice)"),
};

export const modelSourceSchema = z.object(modelSourceArgs);
export type ModelSourceArgs = z.infer<typeof modelSourceSchema>;

/**
 * The one model source the args name, as the evaluation's {@link ModelSource} (`trained`, `onnx` or
 * `tfjs`); a ConfigError (at `<prefix>.<key>`) when none or several are given. `extra` names further
 * sources a stage accepts (eval's `features`), counted in "exactly one".
 */
export function modelSourceOf(
  args: ModelSourceArgs,
  prefix = 'pipeline.args',
  extra: Readonly<Record<string, string | undefined>> = {},
): Extract<ModelSource, { kind: 'trained' | 'onnx' | 'tfjs' }> {
  const others = Object.keys(extra).filter((k) => extra[k] !== undefined);
  const given = [...(['checkpoint', 'onnx', 'tfjs'] as const).filter((k) => args[k] !== undefined), ...others];
  if (given.length !== 1 || others.length > 0)
    throw new ConfigError([
      {
        path: `${prefix}.${given[1] ?? given[0] ?? 'checkpoint'}`,
        message:
          given.length === 0
            ? `required: one model source, checkpoint (--checkpoint), onnx (--onnx) or tfjs (--tfjs)${Object.keys(extra)
                .map((k) => ` or ${k} (--${k})`)
                .join('')}`
            : given.length > 1
              ? `one model source only, got ${given.join(' and ')}`
              : `${given[0]} is not a model file`,
      },
    ]);
  const kind = given[0] as 'checkpoint' | 'onnx' | 'tfjs';
  const names = {
    ...(args.logits_output !== undefined ? { logitsOutput: args.logits_output } : {}),
    ...(args.features_output !== undefined ? { featuresOutput: args.features_output } : {}),
  };
  if (kind === 'checkpoint') {
    const misplaced = (['logits_output', 'features_output', 'threads'] as const).find((k) => args[k] !== undefined);
    if (misplaced)
      throw new ConfigError([{ path: `${prefix}.${misplaced}`, message: 'applies to an onnx or tfjs model, not to a checkpoint' }]);
    return { kind: 'trained', checkpoint: args.checkpoint! };
  }
  if (kind === 'tfjs') {
    if (args.threads !== undefined) throw new ConfigError([{ path: `${prefix}.threads`, message: 'applies to an onnx model only' }]);
    return { kind, path: args.tfjs!, ...names };
  }
  return { kind, path: args.onnx!, ...names, ...(args.threads !== undefined ? { threads: args.threads } : {}) };
}

/**
 * Runs `use` with the source's model — a Classifier (checkpoint, tfjs: every postprocessor runs on it)
 * or an InferenceModel (onnx: logits, features and W, b only), opened by the evaluation's openers —
 * and the config's benchmark (class counts checked); the model is disposed after.
 */
export async function withModelSource<T>(
  ctx: BuildContext,
  source: ModelSource,
  logger: Logger,
  use: (model: FeatureModel, bench: LoadedBenchmark) => Promise<T>,
): Promise<T> {
  if (ctx.config.benchmark === undefined || ctx.config.benchmark === null)
    throw new ConfigError([
      {
        path: 'benchmark',
        message: 'required: the benchmark whose splits go through the model (a shipped name, a YAML path or a mapping)',
      },
    ]);
  const { registry, config } = ctx;
  const bench = await loadBenchmark(config.benchmark, registry, { logger, rng: Rng.fromSeed(0), config });
  const opened = await openModel(source, {
    registry,
    logger,
    benchmark: bench,
    buildContext: ctx,
  });
  try {
    const model = opened.network ?? opened.inference;
    if (!model) throw new UsageError(`a ${source.kind} source has no model to run over the benchmark`);
    return await use(model, bench);
  } finally {
    await opened.dispose();
  }
}
