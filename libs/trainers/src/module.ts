import { componentModule, type AnyComponentDefinition } from '@oodkit/core';

/** Every component this library registers; add new ones to this list. */
export const trainersDefinitions: readonly AnyComponentDefinition[] = [];

/** The ContainerModule of @oodkit/trainers: contributes its components to the registries. */
export const trainersModule = componentModule('@oodkit/trainers', trainersDefinitions);
