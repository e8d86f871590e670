import { componentModule, type AnyComponentDefinition } from '@oodkit/core';

/** Every component this library registers; add new ones to this list. */
export const sioDefinitions: readonly AnyComponentDefinition[] = [];

/** The ContainerModule of @oodkit/sio: contributes its components to the registries. */
export const sioModule = componentModule('@oodkit/sio', sioDefinitions);
