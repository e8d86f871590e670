import { componentModule, type AnyComponentDefinition } from '@oodkit/core';

/** Every component this library registers; add new ones to this list. */
export const networksDefinitions: readonly AnyComponentDefinition[] = [];

/** The ContainerModule of @oodkit/networks: contributes its components to the registries. */
export const networksModule = componentModule('@oodkit/networks', networksDefinitions);
