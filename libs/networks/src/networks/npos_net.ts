import { tf } from '@oodkit/compute';
import { defineComponent, type Classifier, type Rng } from '@oodkit/core';
import { linear, makeLinear, type Linear } from '../layers/ops.js';
import { buildBackbone } from './backbone-wrapper.js';
import { CiderNet, ciderNetArgs, isProjectionNetwork, type CiderNetArgs, type ProjectionNetwork } from './cider_net.js';

export const nposNetArgs = ciderNetArgs;

/** A projection network with NPOS's ID-vs-boundary classifier on z. */
export interface BoundaryNetwork extends ProjectionNetwork {
  /** mlp(z) [N, 1]: the logit of "in-distribution" for penultimate features (or synthesised points in z space). */
  boundaryLogits(features: tf.Tensor2D): tf.Tensor2D;
}

export function isBoundaryNetwork(network: Classifier): network is BoundaryNetwork {
  return isProjectionNetwork(network) && typeof (network as Partial<BoundaryNetwork>).boundaryLogits === 'function';
}

/**
 * NPOS's network (Tao et al. 2023, "Non-Parametric Outlier Synthesis"; OpenOOD's NPOSNet): CIDER's
 * projection network plus `mlp` = Linear(D, feat_dim)·ReLU·Linear(feat_dim, 1), which separates ID
 * features from outliers synthesised in z space. OpenOOD's NPOSNet also declares a `prototypes`
 * parameter that nothing reads (the trainer keeps its own EMA prototypes); it is left out.
 */
export class NposNet extends CiderNet implements BoundaryNetwork {
  override readonly name: string = 'npos_net';
  private readonly mlp: [Linear, Linear];

  constructor(backbone: Classifier, rng: Rng, args: Omit<CiderNetArgs, 'backbone'>) {
    super(backbone, rng, args);
    this.mlp = [makeLinear(this.store, 'mlp.0', this.featureDim, args.feat_dim), makeLinear(this.store, 'mlp.2', args.feat_dim, 1)];
  }

  boundaryLogits(features: tf.Tensor2D): tf.Tensor2D {
    this.checkFeatures(features);
    return tf.tidy(() => linear(tf.relu(linear(features, this.mlp[0])), this.mlp[1]));
  }
}

export const nposNet = defineComponent({
  kind: 'network',
  name: 'npos_net',
  description: "NPOS: CIDER's hypersphere projection plus an MLP separating ID features from synthesised boundary outliers",
  args: nposNetArgs,
  create: async (args, ctx) => new NposNet(await buildBackbone('npos_net', args.backbone, ctx), ctx.rng.derive('heads'), args),
});
