import { componentModule, type AnyComponentDefinition } from '@oodkit/core';

/** Every component this library registers; add new ones to this list. */
export const dataDefinitions: readonly AnyComponentDefinition[] = [];

/** The ContainerModule of @oodkit/data: contributes its components to the registries. */
export const dataModule = componentModule('@oodkit/data', dataDefinitions);
