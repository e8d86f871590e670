import type { tf } from '@oodkit/compute';
import { defineComponent, UsageError, type Batch, type Classifier, type Rng, type TrainingPlan } from '@oodkit/core';
import { GODIN_H_PARAMETERS, isDecomposedConfidenceNetwork } from '@oodkit/networks';
import { z } from 'zod';
import { crossEntropy } from '../losses.js';
import type { ParameterGroup } from '../optim/sgd.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const godinTrainerArgs = z.strictObject({
  ...optimizerArgs,
  h_schedule: z
    .enum(['cosine', 'constant'])
    .default('cosine')
    .describe(
      "learning rate of the h head: 'cosine' = the network's schedule (OpenOOD's intent); 'constant' = lr throughout (what OpenOOD runs: its h scheduler is attached to the other optimiser)",
    ),
});
export type GodinTrainerArgs = z.infer<typeof godinTrainerArgs>;

const H_PARAMETERS = new Set<string>(GODIN_H_PARAMETERS);

/**
 * G-ODIN (Hsu et al. 2020) as OpenOOD trains it: cross-entropy on the decomposed logits h(x)/g(x) of a
 * `godin_net`, SGD Nesterov for everything, with no weight decay on the h head (its weight, and its
 * bias for `inner`); the g branch and the backbone keep the weight decay.
 */
export class GodinTrainer extends SgdTrainer {
  readonly name = 'godin';
  readonly networkWrapper = 'godin_net';

  constructor(
    private readonly args: GodinTrainerArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  override init(network: Classifier, plan: TrainingPlan): void {
    if (!isDecomposedConfidenceNetwork(network)) {
      throw new UsageError(
        `trainer 'godin' trains a decomposed-confidence network (network: {name: godin_net, args: {backbone: ...}}), got '${network.name}'`,
      );
    }
    super.init(network, plan);
  }

  protected override parameterGroup(name: string, lr: number): ParameterGroup | undefined {
    if (!H_PARAMETERS.has(name)) return undefined;
    return { lr: this.args.h_schedule === 'cosine' ? lr : this.args.lr, weightDecay: 0 };
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    return crossEntropy(network.forward(batch.x, true), batch.y);
  }
}

export const godin = defineComponent({
  kind: 'trainer',
  name: 'godin',
  description: 'G-ODIN: cross-entropy on h(x)/g(x) of a godin_net (wrapped automatically), no weight decay on h',
  args: godinTrainerArgs,
  create: (args, ctx) => new GodinTrainer(args, ctx.rng),
});
