import { componentModule, type AnyComponentDefinition } from '@oodkit/core';
import { cvaeGenerator } from './generators/cvae.js';

/** Every component this library registers; add new ones to this list. */
export const sioDefinitions: readonly AnyComponentDefinition[] = [cvaeGenerator];

/** The ContainerModule of @oodkit/sio: contributes its components to the registries. */
export const sioModule = componentModule('@oodkit/sio', sioDefinitions);
