import { componentModule, type AnyComponentDefinition } from '@oodkit/core';
import { lenet } from './networks/lenet.js';
import { resnet18_32x32 } from './networks/resnet18_32x32.js';
import { resnet18_224x224 } from './networks/resnet18_224x224.js';
import { godinNet } from './networks/godin.js';

/** Every component this library registers; add new ones to this list. */
export const networksDefinitions: readonly AnyComponentDefinition[] = [lenet, resnet18_32x32, resnet18_224x224, godinNet];

/** The ContainerModule of @oodkit/networks: contributes its components to the registries. */
export const networksModule = componentModule('@oodkit/networks', networksDefinitions);
