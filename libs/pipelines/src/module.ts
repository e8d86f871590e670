import { libraryModule, schemaSection, type AnyComponentDefinition, type ConfigSection } from '@oodkit/core';
import { trainPipeline, trainSectionSchema } from './train/pipeline.js';
import { benchConfigSection } from './benchmark/bench-section.js';
import { launcherConfigSection } from './launch/launcher-section.js';
import {
  benchmarkPipeline,
  evalFeaturesPipeline,
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
  benchmarkPipeline,
];

/** Top-level config keys this library owns. */
export const pipelinesSections: readonly ConfigSection[] = [
  schemaSection('train', trainSectionSchema, 'training run: epochs, batch sizes, checkpoint frequency, outlier data for OE trainers'),
  benchConfigSection,
  launcherConfigSection,
];

/** The ContainerModule of @oodkit/pipelines: contributes its components and config sections. */
export const pipelinesModule = libraryModule('@oodkit/pipelines', { components: pipelinesDefinitions, sections: pipelinesSections });
