import { componentModule, type AnyComponentDefinition } from '@oodkit/core';
import { base } from './trainers/base.js';
import { oe } from './trainers/oe.js';
import { mixoe } from './trainers/mixoe.js';
import { logitnorm } from './trainers/logitnorm.js';
import { mixup } from './trainers/mixup.js';
import { cutmix } from './trainers/cutmix.js';
import { regmixup } from './trainers/regmixup.js';
import { vos } from './trainers/vos.js';
import { godin } from './trainers/godin.js';
import { pixmix } from './trainers/pixmix.js';
import { cutout } from './trainers/cutout.js';
import { randaugment } from './trainers/randaugment.js';
import { augmix } from './trainers/augmix.js';
import { confBranch } from './trainers/conf_branch.js';
import { rotpred } from './trainers/rotpred.js';
import { t2fnorm } from './trainers/t2fnorm.js';
import { cider } from './trainers/cider.js';
import { npos } from './trainers/npos.js';
import { energyOe } from './trainers/energy_oe.js';
import { objectosphere } from './trainers/objectosphere.js';

/** Every component this library registers; add new ones to this list. */
export const trainersDefinitions: readonly AnyComponentDefinition[] = [
  base,
  oe,
  mixoe,
  logitnorm,
  mixup,
  cutmix,
  regmixup,
  vos,
  godin,
  pixmix,
  cutout,
  randaugment,
  augmix,
  confBranch,
  rotpred,
  t2fnorm,
  cider,
  npos,
  energyOe,
  objectosphere,
];

/** The ContainerModule of @oodkit/trainers: contributes its components to the registries. */
export const trainersModule = componentModule('@oodkit/trainers', trainersDefinitions);
