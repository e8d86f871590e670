import { tf } from '@oodkit/compute';
import { defineComponent, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { linear, makeLinear, type Linear } from '../layers/ops.js';
import { BackboneWrapper, backboneArg, buildBackbone } from './backbone-wrapper.js';

export const confBranchNetArgs = z.strictObject({ backbone: backboneArg });

/** A network with a learned confidence c(x) beside its logits (the `conf_branch` trainer and postprocessor need one). */
export interface ConfidenceBranchNetwork extends Classifier {
  /** Logits [N, C], the confidence logit [N, 1] (before the sigmoid) and z [N, D]. */
  forwardWithConfidence(x: tf.Tensor4D, training?: boolean): { logits: tf.Tensor2D; confidence: tf.Tensor2D; features: tf.Tensor2D };
  /** The confidence logit of penultimate features [N, 1]. */
  confidenceOf(features: tf.Tensor2D): tf.Tensor2D;
}

export function isConfidenceBranchNetwork(network: Classifier): network is ConfidenceBranchNetwork {
  return typeof (network as Partial<ConfidenceBranchNetwork>).forwardWithConfidence === 'function';
}

/**
 * DeVries & Taylor 2018, "Learning Confidence for Out-of-Distribution Detection" (OpenOOD's
 * ConfBranchNet): the backbone's z feeds the class layer and a `confidence` Linear(D, 1).
 */
export class ConfBranchNet extends BackboneWrapper implements ConfidenceBranchNetwork {
  readonly name = 'conf_branch_net';
  private readonly confidence: Linear;

  constructor(backbone: Classifier, rng: Rng) {
    super(backbone, rng);
    this.confidence = makeLinear(this.store, 'confidence', this.featureDim, 1);
  }

  confidenceOf(features: tf.Tensor2D): tf.Tensor2D {
    this.checkFeatures(features);
    return tf.tidy(() => linear(features, this.confidence));
  }

  forwardWithConfidence(x: tf.Tensor4D, training = false) {
    this.check(x);
    return tf.tidy(() => {
      const { features } = this.backbone.forwardFeatures(x, training);
      return { logits: this.head(features), confidence: this.confidenceOf(features), features };
    });
  }
}

export const confBranchNet = defineComponent({
  kind: 'network',
  name: 'conf_branch_net',
  description: 'a backbone with a confidence branch Linear(D, 1) beside the class layer (DeVries & Taylor 2018)',
  args: confBranchNetArgs,
  create: async (args, ctx) => new ConfBranchNet(await buildBackbone('conf_branch_net', args.backbone, ctx), ctx.rng.derive('heads')),
});
