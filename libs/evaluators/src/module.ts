import { componentModule, type AnyComponentDefinition } from '@oodkit/core';

/** Every component this library registers; add new ones to this list. */
export const evaluatorsDefinitions: readonly AnyComponentDefinition[] = [];

/** The ContainerModule of @oodkit/evaluators: contributes its components to the registries. */
export const evaluatorsModule = componentModule('@oodkit/evaluators', evaluatorsDefinitions);
