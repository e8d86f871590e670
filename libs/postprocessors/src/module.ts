import { componentModule, type AnyComponentDefinition } from '@oodkit/core';

/** Every component this library registers; add new ones to this list. */
export const postprocessorsDefinitions: readonly AnyComponentDefinition[] = [];

/** The ContainerModule of @oodkit/postprocessors: contributes its components to the registries. */
export const postprocessorsModule = componentModule('@oodkit/postprocessors', postprocessorsDefinitions);
