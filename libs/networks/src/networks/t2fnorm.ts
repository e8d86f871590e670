import { tf } from '@oodkit/compute';
import { defineComponent, UsageError, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { BackboneWrapper, backboneArg, buildBackbone } from './backbone-wrapper.js';

export const t2fnormNetArgs = z.strictObject({
  backbone: backboneArg,
  tau: z.number().positive().default(0.1).describe('temperature τ: training logits are fc(z/‖z‖ / τ), OOD-inference logits fc(z / τ)'),
});

/** A network trained on τ-scaled normalised features (the `t2fnorm` postprocessor needs one). */
export interface FeatureNormNetwork extends Classifier {
  readonly tau: number;
  /** OpenOOD's `set_tau`: the trainer's τ replaces the network's (a buffer, so checkpoints keep it). */
  setTau(tau: number): void;
  /** fc(z / τ): the logits T2FNorm scores OOD with (no normalisation). */
  inferenceLogits(features: tf.Tensor2D): tf.Tensor2D;
}

export function isFeatureNormNetwork(network: Classifier): network is FeatureNormNetwork {
  return typeof (network as Partial<FeatureNormNetwork>).inferenceLogits === 'function';
}

/** x / max(‖x‖₂, 1e-12) per row (F.normalize). */
export function l2NormalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1, true)), 1e-12)) as tf.Tensor2D);
}

/**
 * T2FNorm (Regmi et al. 2023; OpenOOD's T2FNormNet): training and `forward` use
 * fc(z/‖z‖₂ / τ); OOD inference uses fc(z / τ) without the normalisation. `head` is forward's map
 * (so head(forwardFeatures(x).features) equals forward(x)); `finalLayer` is (W/τ, b), the linear map
 * of the inference logits, so feature-folder methods see what OpenOOD's t2fnorm scores.
 * OpenOOD skips the τ at inference for ImageNet-1k (not trained from scratch); here every
 * t2fnorm_net is trained by the `t2fnorm` trainer, so τ always applies. τ is a non-trainable variable
 * (`tau`, OpenOOD's buffer), saved in checkpoints.
 */
export class T2FNormNet extends BackboneWrapper implements FeatureNormNetwork {
  readonly name = 't2fnorm_net';
  private readonly tauBuffer: tf.Variable;

  constructor(backbone: Classifier, rng: Rng, tau: number) {
    super(backbone, rng);
    this.tauBuffer = this.store.add('tau', tf.scalar(tau), false);
  }

  get tau(): number {
    return this.tauBuffer.dataSync()[0]!;
  }

  setTau(tau: number): void {
    if (!(tau > 0)) throw new UsageError(`t2fnorm_net: tau must be > 0, got ${tau}`);
    this.tauBuffer.assign(tf.scalar(tau));
  }

  override head(features: tf.Tensor2D): tf.Tensor2D {
    this.checkFeatures(features);
    return tf.tidy(() => this.backbone.head(tf.div(l2NormalizeRows(features), this.tauBuffer) as tf.Tensor2D));
  }

  inferenceLogits(features: tf.Tensor2D): tf.Tensor2D {
    this.checkFeatures(features);
    return tf.tidy(() => this.backbone.head(tf.div(features, this.tauBuffer) as tf.Tensor2D));
  }

  override forwardThreshold(x: tf.Tensor4D, threshold: number): tf.Tensor2D {
    this.check(x);
    return tf.tidy(() => this.inferenceLogits(tf.minimum(this.backbone.forwardFeatures(x, false).features, threshold)));
  }

  override finalLayer(): { weight: tf.Tensor2D; bias: tf.Tensor1D } {
    const { weight, bias } = this.backbone.finalLayer();
    const scaled = tf.div(weight, this.tauBuffer) as tf.Tensor2D;
    weight.dispose();
    return { weight: scaled, bias };
  }
}

export const t2fnormNet = defineComponent({
  kind: 'network',
  name: 't2fnorm_net',
  description: 'T2FNorm: logits of τ-scaled L2-normalised features in training, of z/τ for OOD inference',
  args: t2fnormNetArgs,
  create: async (args, ctx) => {
    const backbone = await buildBackbone('t2fnorm_net', args.backbone, ctx);
    if (isFeatureNormNetwork(backbone)) {
      backbone.dispose();
      throw new UsageError('t2fnorm_net: the backbone is already a t2fnorm_net');
    }
    return new T2FNormNet(backbone, ctx.rng.derive('heads'), args.tau);
  },
});
