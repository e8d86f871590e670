import { rotationBatch, tf } from '@oodkit/compute';
import { defineComponent, UsageError, type Batch, type Classifier, type TrainingPlan } from '@oodkit/core';
import { isRotationPredictionNetwork, type RotationPredictionNetwork } from '@oodkit/networks';
import { crossEntropy } from '../losses.js';
import { SgdTrainer, baseTrainerArgs } from './sgd-trainer.js';

/**
 * Rotation prediction (Hendrycks et al. 2019) as OpenOOD's RotPredTrainer: one forward of the four
 * rotated copies (batch norm sees all 4N), loss = CE(class logits of the unrotated N, y) +
 * CE(rotation logits of all 4N, rotation labels).
 */
export class RotPredTrainer extends SgdTrainer {
  readonly name = 'rotpred';
  readonly networkWrapper = 'rot_net';

  override init(network: Classifier, plan: TrainingPlan): void {
    if (!isRotationPredictionNetwork(network)) {
      throw new UsageError(
        `trainer 'rotpred' trains a network with a rotation head (network: {name: rot_net, args: {backbone: ...}}), got '${network.name}'`,
      );
    }
    super.init(network, plan);
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    if (batch.x.shape[1] !== batch.x.shape[2]) {
      throw new UsageError(`trainer 'rotpred' needs square images, got ${batch.x.shape[1]}×${batch.x.shape[2]}`);
    }
    return tf.tidy(() => {
      const n = batch.x.shape[0];
      const { images, labels } = rotationBatch(batch.x);
      const { logits, rotationLogits } = (network as RotationPredictionNetwork).forwardWithRotation(images, true);
      const classLoss = crossEntropy(tf.slice(logits, [0, 0], [n, logits.shape[1]]), batch.y);
      return tf.add(classLoss, crossEntropy(rotationLogits, labels)) as tf.Scalar;
    });
  }
}

export const rotpred = defineComponent({
  kind: 'trainer',
  name: 'rotpred',
  description: 'rotation prediction: CE on the classes + CE on 4 rotations (0/90/180/270°); needs rot_net (wrapped automatically)',
  args: baseTrainerArgs,
  create: (args, ctx) => new RotPredTrainer(args, ctx.rng),
});
