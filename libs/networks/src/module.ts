import { componentModule, type AnyComponentDefinition } from '@oodkit/core';
import { lenet } from './networks/lenet.js';
import { resnet18_32x32 } from './networks/resnet18_32x32.js';
import { resnet18_64x64 } from './networks/resnet18_64x64.js';
import { resnet18_224x224 } from './networks/resnet18_224x224.js';
import { resnet50 } from './networks/resnet50.js';
import { godinNet } from './networks/godin.js';
import { confBranchNet } from './networks/conf_branch.js';
import { rotNet } from './networks/rot_net.js';
import { t2fnormNet } from './networks/t2fnorm.js';
import { ciderNet } from './networks/cider_net.js';
import { nposNet } from './networks/npos_net.js';

/** Every component this library registers; add new ones to this list. */
export const networksDefinitions: readonly AnyComponentDefinition[] = [
  lenet,
  resnet18_32x32,
  resnet18_64x64,
  resnet18_224x224,
  resnet50,
  godinNet,
  confBranchNet,
  rotNet,
  t2fnormNet,
  ciderNet,
  nposNet,
];

/** The ContainerModule of @oodkit/networks: contributes its components to the registries. */
export const networksModule = componentModule('@oodkit/networks', networksDefinitions);
