import { z } from 'zod';
import { ConfigError, Rng, UsageError, type BuildContext, type Classifier, type Logger } from '@oodkit/core';
import { loadBenchmark, type LoadedBenchmark } from '@oodkit/data';
import { OnnxModel, loadTfjsModel, type InferenceModel } from '@oodkit/networks';
import { loadTrainedNetwork } from '../train/restore.js';

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

/** Where a model comes from: oodkit's own checkpoint, an ONNX file, or a tfjs model.json. */
export type ExtractModelSource =
  | { readonly kind: 'checkpoint'; readonly path: string }
  | {
      readonly kind: 'onnx';
      readonly path: string;
      readonly logitsOutput?: string;
      readonly featuresOutput?: string;
      readonly threads?: number;
    }
  | { readonly kind: 'tfjs'; readonly path: string; readonly logitsOutput?: string; readonly featuresOutput?: string };

/** The one model source the args name; a ConfigError (at `<prefix>.<key>`) when none or several are given. */
export function modelSourceOf(args: ModelSourceArgs, prefix = 'pipeline.args'): ExtractModelSource {
  const given = (['checkpoint', 'onnx', 'tfjs'] as const).filter((k) => args[k] !== undefined);
  if (given.length !== 1)
    throw new ConfigError([
      {
        path: `${prefix}.${given[1] ?? 'checkpoint'}`,
        message:
          given.length === 0
            ? 'required: one model source, checkpoint (--checkpoint), onnx (--onnx) or tfjs (--tfjs)'
            : `one model source only, got ${given.join(' and ')}`,
      },
    ]);
  const kind = given[0]!;
  const names = {
    ...(args.logits_output !== undefined ? { logitsOutput: args.logits_output } : {}),
    ...(args.features_output !== undefined ? { featuresOutput: args.features_output } : {}),
  };
  if (kind === 'checkpoint') {
    const extra = (['logits_output', 'features_output', 'threads'] as const).find((k) => args[k] !== undefined);
    if (extra) throw new ConfigError([{ path: `${prefix}.${extra}`, message: 'applies to an onnx or tfjs model, not to a checkpoint' }]);
    return { kind, path: args.checkpoint! };
  }
  if (kind === 'tfjs') {
    if (args.threads !== undefined) throw new ConfigError([{ path: `${prefix}.threads`, message: 'applies to an onnx model only' }]);
    return { kind, path: args.tfjs!, ...names };
  }
  return { kind, path: args.onnx!, ...names, ...(args.threads !== undefined ? { threads: args.threads } : {}) };
}

/**
 * The model of a source: a Classifier (checkpoint, tfjs: every postprocessor runs on it) or an
 * InferenceModel (onnx: logits, features and W, b only). The caller disposes it.
 */
export async function loadModelSource(source: ExtractModelSource, ctx: BuildContext, logger: Logger): Promise<Classifier | InferenceModel> {
  switch (source.kind) {
    case 'checkpoint':
      return (await loadTrainedNetwork(source.path, ctx.registry, logger)).network;
    case 'onnx': {
      const model = await OnnxModel.load(source.path, source);
      const d = model.describe();
      logger.info(
        `onnx ${source.path}: logits '${d.logitsOutput}', features '${d.featuresOutput}', final layer ${d.finalLayerOp} '${d.finalLayerNode}'`,
      );
      return model;
    }
    case 'tfjs':
      return loadTfjsModel(source.path, source);
  }
}

/** Runs `use` with the source's model and the config's benchmark (class counts checked); the model is disposed after. */
export async function withModelSource<T>(
  ctx: BuildContext,
  source: ExtractModelSource,
  logger: Logger,
  use: (model: Classifier | InferenceModel, bench: LoadedBenchmark) => Promise<T>,
): Promise<T> {
  if (ctx.config.benchmark === undefined || ctx.config.benchmark === null)
    throw new ConfigError([
      {
        path: 'benchmark',
        message: 'required: the benchmark whose splits go through the model (a shipped name, a YAML path or a mapping)',
      },
    ]);
  const model = await loadModelSource(source, ctx, logger);
  try {
    const bench = await loadBenchmark(ctx.config.benchmark, ctx.registry, { logger, rng: Rng.fromSeed(0), config: ctx.config });
    if (bench.config.num_classes !== model.numClasses)
      throw new UsageError(
        `${source.kind} model has ${model.numClasses} classes, benchmark '${bench.config.name}' has ${bench.config.num_classes}`,
      );
    return await use(model, bench);
  } finally {
    await model.dispose();
  }
}
