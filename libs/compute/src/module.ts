import { componentModule, type AnyComponentDefinition } from '@oodkit/core';

/** Every component this library registers; add new ones to this list. */
export const computeDefinitions: readonly AnyComponentDefinition[] = [];

/** The ContainerModule of @oodkit/compute: contributes its components to the registries. */
export const computeModule = componentModule('@oodkit/compute', computeDefinitions);
