import { componentModule, type AnyComponentDefinition } from '@oodkit/core';

/** Every component this library registers; add new ones to this list. */
export const pipelinesDefinitions: readonly AnyComponentDefinition[] = [];

/** The ContainerModule of @oodkit/pipelines: contributes its components to the registries. */
export const pipelinesModule = componentModule('@oodkit/pipelines', pipelinesDefinitions);
