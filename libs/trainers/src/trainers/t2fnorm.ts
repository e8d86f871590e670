import type { tf } from '@oodkit/compute';
import { defineComponent, UsageError, type Batch, type Classifier, type Rng, type TrainingPlan } from '@oodkit/core';
import { isFeatureNormNetwork } from '@oodkit/networks';
import { z } from 'zod';
import { crossEntropy } from '../losses.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const t2fnormTrainerArgs = z.strictObject({
  ...optimizerArgs,
  tau: z.number().positive().default(0.1).describe('temperature τ of the normalised features (OpenOOD trainer_args.tau: 0.1)'),
});
export type T2FNormTrainerArgs = z.infer<typeof t2fnormTrainerArgs>;

/**
 * T2FNorm (Regmi et al. 2023, "T2FNorm: Train-time Feature Normalization for OOD Detection in Image
 * Classification") as OpenOOD's T2FNormTrainer: OpenOOD's BaseTrainer (cross-entropy, SGD, per-step
 * cosine) on a t2fnorm_net whose logits are fc(z/‖z‖₂ / τ); `init` sets the network's τ to the
 * trainer's (OpenOOD's `set_tau`).
 */
export class T2FNormTrainer extends SgdTrainer {
  readonly name = 't2fnorm';
  readonly networkWrapper = 't2fnorm_net';

  constructor(
    private readonly args: T2FNormTrainerArgs,
    rng: Rng,
  ) {
    super(args, rng);
  }

  override init(network: Classifier, plan: TrainingPlan): void {
    if (!isFeatureNormNetwork(network)) {
      throw new UsageError(
        `trainer 't2fnorm' trains a feature-normalised network (network: {name: t2fnorm_net, args: {backbone: ...}}), got '${network.name}'`,
      );
    }
    network.setTau(this.args.tau);
    super.init(network, plan);
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    return crossEntropy(network.forward(batch.x, true), batch.y);
  }
}

export const t2fnorm = defineComponent({
  kind: 'trainer',
  name: 't2fnorm',
  description: 'T2FNorm: cross-entropy on logits of L2-normalised features / τ; needs t2fnorm_net (wrapped automatically)',
  args: t2fnormTrainerArgs,
  create: (args, ctx) => new T2FNormTrainer(args, ctx.rng),
});
