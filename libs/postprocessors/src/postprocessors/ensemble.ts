import { tf } from '@oodkit/compute';
import {
  DataError,
  UsageError,
  type Classifier,
  type PostprocessorSetupData,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { scoreLogits } from '../math/softmax.js';

export const ensembleArgs = z.strictObject({
  checkpoints: z
    .array(z.string().min(1))
    .default([])
    .describe('trained checkpoints of the same architecture as the evaluated network (oodkit checkpoint files); at least one'),
});
export type EnsembleArgs = z.infer<typeof ensembleArgs>;

/** Mean of the members' logits on `x` (each member in inference mode). */
export function meanLogits(members: readonly Classifier[], x: tf.Tensor4D): Tensor2D {
  return tf.tidy(() => {
    let sum = members[0]!.forward(x, false);
    for (let i = 1; i < members.length; i++) sum = tf.add(sum, members[i]!.forward(x, false)) as Tensor2D;
    return tf.div(sum, members.length) as Tensor2D;
  });
}

/**
 * Deep ensembles (Lakshminarayanan et al., NeurIPS 2017), as OpenOOD's `ensemble` postprocessor
 * (openood/postprocessors/ensemble_postprocessor.py, configs/postprocessors/ensemble.yml): the listed
 * checkpoints are loaded as networks of the evaluated architecture; conf = max softmax of the *mean
 * logits*, pred = its argmax. As OpenOOD, the evaluated network itself is not a member unless its
 * checkpoint is listed. A member that cannot be read, or whose network differs from the evaluated one
 * (architecture, classes, input shape), fails setup naming its list position and path. The list
 * defaults to empty so that `--postprocessor all` can build it; setup then refuses it by name.
 */
export class EnsemblePostprocessor extends BasePostprocessor<typeof ensembleArgs> {
  readonly name = 'ensemble';
  override readonly needsNetwork = true;
  override readonly networkUse = 'its member networks';
  private members: Classifier[] = [];

  protected override async fit(model: ScoringModel, _data: PostprocessorSetupData): Promise<void> {
    const load = model.loadNetwork;
    if (!load) throw new UsageError('ensemble loads its member checkpoints, but this source cannot load checkpoints');
    const reference = model.network!;
    if (this.args.checkpoints.length === 0) {
      throw new UsageError('ensemble needs at least one member: list checkpoint files in postprocessor.args.checkpoints');
    }
    try {
      for (const [i, path] of this.args.checkpoints.entries()) {
        const where = `postprocessor.args.checkpoints[${i}] (${path})`;
        let member: Classifier;
        try {
          member = await load(path);
        } catch (error) {
          throw new DataError(`ensemble: ${where}: ${(error as Error).message}`, { cause: error });
        }
        this.members.push(member);
        const mismatch =
          member.name !== reference.name
            ? `network '${member.name}', the evaluated network is '${reference.name}'`
            : member.numClasses !== reference.numClasses
              ? `${member.numClasses} classes, the evaluated network has ${reference.numClasses}`
              : member.inputShape.join('×') !== reference.inputShape.join('×')
                ? `input ${member.inputShape.join('×')}, the evaluated network takes ${reference.inputShape.join('×')}`
                : undefined;
        if (mismatch) throw new DataError(`ensemble: ${where} holds ${mismatch}`);
      }
    } catch (error) {
      // a failed setup keeps no member loaded
      this.releaseMembers();
      throw error;
    }
  }

  protected override releaseState(): void {
    this.releaseMembers();
    super.releaseState();
  }

  private releaseMembers(): void {
    for (const m of this.members) m.dispose();
    this.members = [];
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const x = batch.inputs;
    if (!x) throw new UsageError('ensemble runs its member networks: the score batch must carry `inputs`');
    return scoreLogits(meanLogits(this.members, x), (l) => tf.max(tf.softmax(l), 1) as Tensor1D);
  }
}

export const ensembleDefinition = definePostprocessor(
  {
    name: 'ensemble',
    description: 'Deep ensemble: max softmax of the mean logits of several trained checkpoints',
    args: ensembleArgs,
  },
  EnsemblePostprocessor,
);
