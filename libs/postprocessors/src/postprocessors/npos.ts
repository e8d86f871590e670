import { definePostprocessor } from '../lifecycle/index.js';
import { CiderPostprocessor, ciderArgs } from './cider.js';

export const nposArgs = ciderArgs;

/**
 * NPOS's score (Tao et al., ICLR 2023; OpenOOD's NPOSPostprocessor): the same KNN as CIDER's on the
 * normalised penultimate z (OpenOOD's two postprocessors are identical, dummy pred 0 included); K grid
 * {50, 100, 200, 500, 1000} as its config. OpenOOD's NPOS does not score with the trained boundary mlp.
 */
export class NposPostprocessor extends CiderPostprocessor {
  override readonly name: string = 'npos';
}

export const nposDefinition = definePostprocessor(
  {
    name: 'npos',
    description: 'NPOS: negative squared distance to the K-th nearest normalised train feature z; pred 0 (as OpenOOD)',
    args: nposArgs,
    grid: { K: [50, 100, 200, 500, 1000] },
  },
  NposPostprocessor,
);
