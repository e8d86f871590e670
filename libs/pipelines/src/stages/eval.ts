import { extname } from 'node:path';
import { z } from 'zod';
import { ConfigError, defineComponent } from '@oodkit/core';
import { runEvaluationStage } from '../evaluation/run-evaluation.js';
import type { ModelSource } from '../evaluation/model-source.js';
import { modelSourceArgs, modelSourceOf } from './model-source.js';
import type { RunnablePipeline } from './common.js';

/** File endings of PyTorch / safetensors checkpoints (they need `network`: the file holds no architecture). */
const TORCH_ENDINGS = new Set(['.pth', '.pt', '.bin', '.safetensors', '.tar']);

export const evalArgs = z
  .strictObject({
    ...modelSourceArgs,
    checkpoint: z
      .string()
      .min(1)
      .optional()
      .describe('a model: an oodkit checkpoint (.ckpt), or with `network` a PyTorch checkpoint / safetensors file'),
    network: z
      .union([z.string().min(1), z.strictObject({ name: z.string().min(1), args: z.record(z.string(), z.unknown()).default({}) })])
      .optional()
      .describe(
        "the registered network a PyTorch checkpoint was saved from (OpenOOD's names: lenet, resnet18_32x32, ...); num_classes and in_channels default to the benchmark's",
      ),
    checkpoint_key: z.string().min(1).optional().describe('key of the state_dict inside a wrapping dict (default: the usual names)'),
    checkpoint_strict: z.boolean().optional().describe("PyTorch's load_state_dict(strict) (default true)"),
    features: z.string().min(1).optional().describe('a feature folder instead of a model (feature-only methods)'),
    all: z.boolean().default(false).describe("every registered postprocessor the model can run, instead of the config's postprocessor"),
    aps: z.boolean().default(false).describe('hyperparameter search over each postprocessor grid (ID val vs OOD val)'),
    save_scores: z.boolean().default(true),
    batch_size: z.int().positive().default(500).describe('images per batch through the network'),
  })
  .refine((a) => [a.checkpoint, a.onnx, a.tfjs, a.features].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of checkpoint, onnx, tfjs or features',
  });
export type EvalArgs = z.infer<typeof evalArgs>;

/** Keys that belong to one kind of source, and that kind in words. */
const SOURCE_ONLY_KEYS = [
  ['network', 'a PyTorch checkpoint (checkpoint)'],
  ['checkpoint_key', 'a PyTorch checkpoint (checkpoint with network)'],
  ['checkpoint_strict', 'a PyTorch checkpoint (checkpoint with network)'],
] as const;

/**
 * The pipeline's args as a model source: a feature folder, oodkit's own checkpoint, a PyTorch one with
 * its network, an ONNX model or a tfjs model.json (the same keys and checks as feat_extract's).
 */
export function evalSource(args: EvalArgs, prefix = 'pipeline.args'): ModelSource {
  const models = (['checkpoint', 'onnx', 'tfjs'] as const).filter((k) => args[k] !== undefined);
  if (args.features !== undefined && models.length === 0) {
    const misplaced = (['logits_output', 'features_output', 'threads', ...SOURCE_ONLY_KEYS.map(([k]) => k)] as const).find(
      (k) => args[k] !== undefined,
    );
    if (misplaced)
      throw new ConfigError([{ path: `${prefix}.${misplaced}`, message: 'applies to a model, not to a feature folder (features)' }]);
    return { kind: 'features', folder: args.features };
  }
  const source = modelSourceOf(args, prefix, { features: args.features });
  if (source.kind !== 'trained') {
    const misplaced = SOURCE_ONLY_KEYS.find(([k]) => args[k] !== undefined);
    if (misplaced)
      throw new ConfigError([{ path: `${prefix}.${misplaced[0]}`, message: `applies to ${misplaced[1]}, not to a ${source.kind} model` }]);
    return source;
  }
  const { checkpoint } = source;
  if (args.network === undefined) {
    if (TORCH_ENDINGS.has(extname(checkpoint).toLowerCase()))
      throw new ConfigError([
        {
          path: `${prefix}.network`,
          message: `${checkpoint} is a PyTorch/safetensors checkpoint, which holds no architecture: name the network it was saved from (--network resnet18_32x32)`,
        },
      ]);
    const misplaced = SOURCE_ONLY_KEYS.find(([k]) => args[k] !== undefined);
    if (misplaced)
      throw new ConfigError([{ path: `${prefix}.${misplaced[0]}`, message: `applies to ${misplaced[1]}, not to an oodkit checkpoint` }]);
    return source;
  }
  const network = typeof args.network === 'string' ? { name: args.network } : args.network;
  return {
    kind: 'torch',
    checkpoint,
    network,
    ...(args.checkpoint_key !== undefined ? { key: args.checkpoint_key } : {}),
    ...(args.checkpoint_strict !== undefined ? { strict: args.checkpoint_strict } : {}),
  };
}

/**
 * `oodkit eval`: OOD metrics of any model — oodkit's checkpoint, a PyTorch checkpoint with its network,
 * an ONNX or tfjs model, or a feature folder — for the config's postprocessor or all of them, through the one evaluation path.
 */
export const evalPipeline = defineComponent({
  kind: 'pipeline',
  name: 'eval',
  description:
    "OOD metrics of a model (oodkit or PyTorch checkpoint, ONNX or tfjs model, or a feature folder) for the config's postprocessor or all",
  args: evalArgs,
  create: (args, ctx): RunnablePipeline => ({
    run: (options = {}) =>
      runEvaluationStage(
        {
          source: evalSource(args),
          all: args.all,
          aps: args.aps,
          saveScores: args.save_scores,
          batchSize: args.batch_size,
          what: 'eval',
          defaultFolder: ({ benchmark, model }) => `eval/${benchmark ?? 'features'}_${model}`,
        },
        ctx,
        options.logger ?? ctx.logger,
        { resume: options.resume, overwrite: options.overwrite },
      ),
  }),
});
