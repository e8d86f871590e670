import { tf } from '@oodkit/compute';
import { defineComponent, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { linear, makeLinear, type Linear } from '../layers/ops.js';
import { BackboneWrapper, backboneArg, buildBackbone } from './backbone-wrapper.js';

export const rotNetArgs = z.strictObject({ backbone: backboneArg });

/** A network with a 4-way rotation head beside its logits (the `rotpred` trainer and postprocessor need one). */
export interface RotationPredictionNetwork extends Classifier {
  /** Class logits [N, C] and rotation logits [N, 4] (0°, 90°, 180°, 270°). */
  forwardWithRotation(x: tf.Tensor4D, training?: boolean): { logits: tf.Tensor2D; rotationLogits: tf.Tensor2D };
}

export function isRotationPredictionNetwork(network: Classifier): network is RotationPredictionNetwork {
  return typeof (network as Partial<RotationPredictionNetwork>).forwardWithRotation === 'function';
}

/**
 * Hendrycks et al. 2019, "Using Self-Supervised Learning Can Improve Model Robustness and Uncertainty"
 * (OpenOOD's RotNet): z feeds the class layer and a `rot_fc` Linear(D, 4).
 */
export class RotNet extends BackboneWrapper implements RotationPredictionNetwork {
  readonly name = 'rot_net';
  private readonly rotation: Linear;

  constructor(backbone: Classifier, rng: Rng) {
    super(backbone, rng);
    this.rotation = makeLinear(this.store, 'rot_fc', this.featureDim, 4);
  }

  forwardWithRotation(x: tf.Tensor4D, training = false) {
    this.check(x);
    return tf.tidy(() => {
      const { features } = this.backbone.forwardFeatures(x, training);
      return { logits: this.head(features), rotationLogits: linear(features, this.rotation) };
    });
  }
}

export const rotNet = defineComponent({
  kind: 'network',
  name: 'rot_net',
  description: 'a backbone with a 4-way rotation head Linear(D, 4) beside the class layer (Hendrycks et al. 2019)',
  args: rotNetArgs,
  create: async (args, ctx) => new RotNet(await buildBackbone('rot_net', args.backbone, ctx), ctx.rng.derive('heads')),
});
