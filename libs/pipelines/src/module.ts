import { libraryModule, schemaSection, type AnyComponentDefinition, type ConfigSection } from '@oodkit/core';
import { trainPipeline, trainSectionSchema } from './train/pipeline.js';
import { baseRecorderDefinition } from './recorders/base-recorder.js';
import { jsonlRecorderDefinition } from './recorders/jsonl-recorder.js';
import { benchConfigSection } from './benchmark/bench-section.js';
import { launcherConfigSection } from './launch/launcher-section.js';
import {
  benchmarkPipeline,
  evalFeaturesPipeline,
  evalPipeline,
  featExtractPipeline,
  testAccPipeline,
  testOodPipeline,
  trainOePipeline,
} from './stages/index.js';

/** Every component this library registers; add new ones to this list. */
export const pipelinesDefinitions: readonly AnyComponentDefinition[] = [
  trainPipeline,
  trainOePipeline,
  testAccPipeline,
  featExtractPipeline,
  testOodPipeline,
  evalFeaturesPipeline,
  evalPipeline,
  benchmarkPipeline,
  baseRecorderDefinition,
  jsonlRecorderDefinition,
];

/** Top-level config keys this library owns. */
export const pipelinesSections: readonly ConfigSection[] = [
  schemaSection('train', trainSectionSchema, 'training run: epochs, batch sizes, checkpoint frequency, outlier data for OE trainers'),
  benchConfigSection,
  launcherConfigSection,
];

/** The ContainerModule of @oodkit/pipelines: contributes its components and config sections. */
export const pipelinesModule = libraryModule('@oodkit/pipelines', { components: pipelinesDefinitions, sections: pipelinesSections });
