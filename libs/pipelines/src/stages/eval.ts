import { extname } from 'node:path';
import { z } from 'zod';
import { ConfigError, defineComponent } from '@oodkit/core';
import { runEvaluationStage } from '../evaluation/run-evaluation.js';
import type { ModelSource } from '../evaluation/model-source.js';
import type { RunnablePipeline } from './common.js';

/** File endings of PyTorch / safetensors checkpoints (they need `network`: the file holds no architecture). */
const TORCH_ENDINGS = new Set(['.pth', '.pt', '.bin', '.safetensors', '.tar']);

export const evalArgs = z
  .strictObject({
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
  .refine((a) => (a.checkpoint === undefined) !== (a.features === undefined), { message: 'give exactly one of checkpoint or features' });
export type EvalArgs = z.infer<typeof evalArgs>;

/** The pipeline's args as a model source: a feature folder, oodkit's own checkpoint, or a PyTorch one with its network. */
export function evalSource(args: EvalArgs): ModelSource {
  if (args.features !== undefined) return { kind: 'features', folder: args.features };
  const checkpoint = args.checkpoint!;
  if (args.network === undefined) {
    if (TORCH_ENDINGS.has(extname(checkpoint).toLowerCase()))
      throw new ConfigError([
        {
          path: 'pipeline.args.network',
          message: `${checkpoint} is a PyTorch/safetensors checkpoint, which holds no architecture: name the network it was saved from (--network resnet18_32x32)`,
        },
      ]);
    return { kind: 'trained', checkpoint };
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
 * or a feature folder — for the config's postprocessor or all of them, through the one evaluation path.
 */
export const evalPipeline = defineComponent({
  kind: 'pipeline',
  name: 'eval',
  description: "OOD metrics of a model (oodkit or PyTorch checkpoint, or a feature folder) for the config's postprocessor or all",
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
