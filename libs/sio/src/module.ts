import { libraryModule, type AnyComponentDefinition } from '@oodkit/core';
import { cvaeGenerator } from './generators/cvae.js';
import { cganGenerator } from './generators/cgan.js';
import { sioSection } from './config/sio-section.js';

/** Every component this library registers; add new ones to this list. */
export const sioDefinitions: readonly AnyComponentDefinition[] = [cvaeGenerator, cganGenerator];

/** The ContainerModule of @oodkit/sio: contributes its components and the `sio` config section. */
export const sioModule = libraryModule('@oodkit/sio', { components: sioDefinitions, sections: [sioSection] });
