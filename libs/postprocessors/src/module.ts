import { libraryModule, type AnyComponentDefinition } from '@oodkit/core';
import { postprocessorConfigSection } from './config/postprocessor-section.js';
import { ashDefinition } from './postprocessors/ash.js';
import { diceDefinition } from './postprocessors/dice.js';
import { eboDefinition } from './postprocessors/ebo.js';
import { genDefinition } from './postprocessors/gen.js';
import { klmDefinition } from './postprocessors/klm.js';
import { mdsDefinition } from './postprocessors/mds.js';
import { mlsDefinition } from './postprocessors/mls.js';
import { mspDefinition } from './postprocessors/msp.js';
import { odinDefinition } from './postprocessors/odin.js';
import { reactDefinition } from './postprocessors/react.js';
import { rmdsDefinition } from './postprocessors/rmds.js';
import { scaleDefinition } from './postprocessors/scale.js';
import { tempScalingDefinition } from './postprocessors/temp_scaling.js';
import { fdbdDefinition } from './postprocessors/fdbd.js';
import { gradnormDefinition } from './postprocessors/gradnorm.js';
import { knnDefinition } from './postprocessors/knn.js';
import { nciDefinition } from './postprocessors/nci.js';
import { nnguideDefinition } from './postprocessors/nnguide.js';
import { openmaxDefinition } from './postprocessors/openmax.js';
import { relationDefinition } from './postprocessors/relation.js';
import { residualDefinition } from './postprocessors/residual.js';
import { sheDefinition } from './postprocessors/she.js';
import { vimDefinition } from './postprocessors/vim.js';
import { vraDefinition } from './postprocessors/vra.js';
import { godinDefinition } from './postprocessors/godin.js';
import { entropyDefinition } from './postprocessors/entropy.js';
import { weightedEboDefinition } from './postprocessors/weighted_ebo.js';
import { ltsDefinition } from './postprocessors/lts.js';
import { carefDefinition } from './postprocessors/caref.js';
import { cadrefDefinition } from './postprocessors/cadref.js';
import { pnmlDefinition } from './postprocessors/pnml.js';
import { gmmDefinition } from './postprocessors/gmm.js';
import { mcDropoutDefinition } from './postprocessors/mc_dropout.js';
import { iodinDefinition } from './postprocessors/iodin.js';
import { groodDefinition } from './postprocessors/grood.js';
import { confBranchDefinition } from './postprocessors/conf_branch.js';
import { rotpredDefinition } from './postprocessors/rotpred.js';
import { t2fnormDefinition } from './postprocessors/t2fnorm.js';
import { ciderDefinition } from './postprocessors/cider.js';
import { nposDefinition } from './postprocessors/npos.js';
import { objectosphereDefinition } from './postprocessors/objectosphere.js';
import { rankfeatDefinition } from './postprocessors/rankfeat.js';
import { gramDefinition } from './postprocessors/gram.js';
import { adascaleADefinition, adascaleLDefinition } from './postprocessors/adascale.js';
import { ensembleDefinition } from './postprocessors/ensemble.js';
import { nacDefinition } from './postprocessors/nac.js';
import { cfoodDefinition } from './postprocessors/cfood.js';
import { ashPDefinition } from './postprocessors/ash_p.js';
import { ashSDefinition } from './postprocessors/ash_s.js';
import { dknnDefinition } from './postprocessors/dknn.js';
import { mdsEnsembleDefinition } from './postprocessors/mds_ensemble.js';

/** Every component this library registers; add new ones to this list (one line each). */
export const postprocessorsDefinitions: readonly AnyComponentDefinition[] = [
  ashDefinition,
  diceDefinition,
  eboDefinition,
  genDefinition,
  klmDefinition,
  mdsDefinition,
  mlsDefinition,
  mspDefinition,
  odinDefinition,
  reactDefinition,
  rmdsDefinition,
  scaleDefinition,
  tempScalingDefinition,
  fdbdDefinition,
  gradnormDefinition,
  knnDefinition,
  nciDefinition,
  nnguideDefinition,
  openmaxDefinition,
  relationDefinition,
  residualDefinition,
  sheDefinition,
  vimDefinition,
  vraDefinition,
  godinDefinition,
  entropyDefinition,
  weightedEboDefinition,
  ltsDefinition,
  carefDefinition,
  cadrefDefinition,
  pnmlDefinition,
  gmmDefinition,
  mcDropoutDefinition,
  iodinDefinition,
  groodDefinition,
  confBranchDefinition,
  rotpredDefinition,
  t2fnormDefinition,
  ciderDefinition,
  nposDefinition,
  objectosphereDefinition,
  rankfeatDefinition,
  gramDefinition,
  adascaleADefinition,
  adascaleLDefinition,
  ensembleDefinition,
  nacDefinition,
  cfoodDefinition,
  ashPDefinition,
  ashSDefinition,
  dknnDefinition,
  mdsEnsembleDefinition,
];

/** The ContainerModule of @oodkit/postprocessors: its components, and the `postprocessor:` section (with `grid:`). */
export const postprocessorsModule = libraryModule('@oodkit/postprocessors', {
  components: postprocessorsDefinitions,
  sections: [postprocessorConfigSection],
});
