import type { ContainerModule } from 'inversify';
import { z } from 'zod';
import { componentSection, schemaSection, sectionsModule, type ConfigSection } from './sections.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export const COMPUTE_BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export const CONV_ALGORITHMS = ['fastest', 'accurate'] as const;
export const LINALG_ROUTES = ['auto', 'onnxruntime', 'backend'] as const;

export const computeConfigSchema = z
  .strictObject({
    backend: z.enum(COMPUTE_BACKENDS).default('auto').describe('tensor backend; auto picks the fastest available'),
    conv_algorithms: z
      .enum(CONV_ALGORITHMS)
      .default('fastest')
      .describe(
        'wasm 3×3 convolutions: fastest per layer (Winograd F(4×4), ~1e-5 relative error) or accurate (~1e-6, as a direct fp32 conv)',
      ),
    linalg: z
      .enum(LINALG_ROUTES)
      .default('auto')
      .describe(
        "where vim's, residual's and nnguide's dense feature products run: onnxruntime's CPU kernels (auto: when it loads) or the tensor backend (backend: the same bits on every machine)",
      ),
  })
  .prefault({});

/**
 * `dataset`: facts about the in-distribution data that other sections reference, e.g.
 * `network.args.num_classes: '@{dataset.num_classes}'`. Known keys are typed; other keys are allowed
 * (a typo there surfaces as a dangling reference). A fallback: a library contributing its own
 * `dataset` section replaces it.
 */
export const datasetFactsSchema = z.looseObject({
  name: z.string().min(1).optional(),
  num_classes: z.number().int().positive().optional(),
  image_size: z.number().int().positive().optional(),
  channels: z.number().int().positive().optional(),
});

/** The run-level keys core owns; other libraries add theirs (dataset, benchmark, sio, ...) the same way. */
export const coreSections: readonly ConfigSection[] = [
  schemaSection('seed', z.number().int().default(0), 'the one seed every random stream of the run derives from'),
  schemaSection('exp_name', z.string().min(1).optional(), 'experiment name; names the result folder'),
  schemaSection('output_dir', z.string().min(1).default('results'), 'folder under which result folders are created'),
  schemaSection(
    'plugins',
    z.array(z.string().min(1)).default([]),
    'packages or paths whose ContainerModules are loaded before anything is built',
  ),
  schemaSection('compute', computeConfigSchema, 'where tensors are computed'),
  {
    ...schemaSection(
      'dataset',
      datasetFactsSchema.optional(),
      'in-distribution data facts shared through references (name, num_classes, ...)',
    ),
    fallback: true,
  },
  schemaSection('log_level', z.enum(LOG_LEVELS).default('info'), 'least severe log level printed'),
  componentSection('network', 'network', 'the classifier: produces logits and features'),
  componentSection('trainer', 'trainer', 'how the network is trained'),
  componentSection('evaluator', 'evaluator', 'how predictions and OOD scores are evaluated'),
  // A fallback: @oodkit/postprocessors replaces it with the form that also takes `grid:`.
  { ...componentSection('postprocessor', 'postprocessor', 'the OOD scoring method applied to the network'), fallback: true },
  componentSection('pipeline', 'pipeline', 'what the run does: train, test_ood, feat_extract, ...'),
  componentSection('recorder', 'recorder', 'what is recorded during training'),
  componentSection('generator', 'generator', 'makes synthetic in-distribution images'),
  // A fallback: @oodkit/data replaces it with the train/test chain form its pipelines read.
  { ...componentSection('preprocessor', 'preprocessor', 'transforms applied to images before the network'), fallback: true },
];

/** Core's own ContainerModule: the generic top-level config keys. Loaded by `createAppContainer`. */
export const coreConfigModule: ContainerModule = sectionsModule('@oodkit/core', coreSections);
