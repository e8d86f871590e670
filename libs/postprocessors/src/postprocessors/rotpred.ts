import { rotationBatch, tf } from '@oodkit/compute';
import { UsageError, type Classifier, type ScoreBatch, type ScoreResult } from '@oodkit/core';
import type { Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { WrapperNetworkPostprocessor, definePostprocessor } from '../lifecycle/index.js';
import { toScoreResult } from '../math/softmax.js';

export const rotpredArgs = z.strictObject({});

/** What the score needs of the network: the rotation head (libs/networks `rot_net`). */
interface RotationNetwork extends Classifier {
  forwardWithRotation(x: Tensor4D, training?: boolean): { logits: Tensor2D; rotationLogits: Tensor2D };
}

function hasRotationHead(network: Classifier | undefined): network is RotationNetwork {
  return typeof (network as Partial<RotationNetwork> | undefined)?.forwardWithRotation === 'function';
}

/**
 * Σ_c u_c·log₂(u_c / p_c) with terms where u_c = 0 dropped (OpenOOD's `kl_div`, in bits), per row.
 */
export function klDivergenceBits(u: Tensor2D, p: Tensor2D): Tensor1D {
  return tf.tidy(() => {
    const terms = tf.mul(u, tf.div(tf.log(tf.div(u, p)), Math.LN2));
    return tf.sum(tf.where(tf.notEqual(u, 0), terms, tf.zerosLike(terms)), 1) as Tensor1D;
  });
}

/**
 * Rotation prediction's score (Hendrycks et al. 2019, ss-ood; OpenOOD's RotPredPostprocessor): one
 * forward of x and its 90°, 180°, 270° rotations; conf = KL(uniform ‖ softmax(class logits of x)) −
 * mean over the four rotations r of KL(onehot(r) ‖ softmax(rotation logits)), both in bits, so a
 * confident class prediction and well-predicted rotations mean in-distribution. pred = argmax of x's logits.
 */
export class RotPredPostprocessor extends WrapperNetworkPostprocessor<typeof rotpredArgs, RotationNetwork> {
  readonly name = 'rotpred';
  override readonly networkUse = 'the rotation head of a rotpred-trained network';
  protected readonly requirement = "a network with a rotation head (rot_net, trained with trainer 'rotpred')";

  protected isWrapper(network: Classifier | undefined): network is RotationNetwork {
    return hasRotationHead(network);
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const x = batch.inputs;
    if (!x) throw new UsageError('rotpred rotates inputs: the score batch must carry `inputs` (scoring from features alone is impossible)');
    if (x.shape[1] !== x.shape[2]) throw new UsageError(`rotpred needs square images, got ${x.shape[1]}×${x.shape[2]}`);
    const network = this.network;
    const [pred, conf] = tf.tidy(() => {
      const n = x.shape[0];
      const { images, labels } = rotationBatch(x);
      const { logits, rotationLogits } = network.forwardWithRotation(images, false);
      const own = tf.slice(logits, [0, 0], [n, logits.shape[1]]) as Tensor2D;
      const c = own.shape[1];
      const classDivergence = klDivergenceBits(tf.fill([n, c], 1 / c) as Tensor2D, tf.softmax(own));
      const rotationDivergence = klDivergenceBits(tf.oneHot(labels, 4).toFloat() as Tensor2D, tf.softmax(rotationLogits));
      const meanRotation = tf.mean(tf.reshape(rotationDivergence, [4, n]), 0);
      return [tf.argMax(own, 1) as Tensor1D, tf.sub(classDivergence, meanRotation) as Tensor1D];
    });
    return toScoreResult(pred, conf);
  }
}

export const rotpredDefinition = definePostprocessor(
  {
    name: 'rotpred',
    description: 'rotation prediction: KL(uniform‖p(y|x)) − mean KL(onehot(r)‖p(r|rot_r x)) over 4 rotations; needs a rot_net',
    args: rotpredArgs,
  },
  RotPredPostprocessor,
);
