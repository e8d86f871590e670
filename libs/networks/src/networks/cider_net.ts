import { tf } from '@oodkit/compute';
import { defineComponent, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import { linear, makeLinear, type Linear } from '../layers/ops.js';
import type { ParameterStore } from '../layers/params.js';
import { BackboneWrapper, backboneArg, buildBackbone } from './backbone-wrapper.js';
import { l2NormalizeRows } from './t2fnorm.js';

export const PROJECTION_HEADS = ['mlp', 'linear'] as const;

export const ciderNetArgs = z.strictObject({
  backbone: backboneArg,
  feat_dim: z.number().int().positive().default(128).describe('dimension of the hypersphere embedding (OpenOOD: 128)'),
  head: z
    .enum(PROJECTION_HEADS)
    .default('mlp')
    .describe("projection head: 'mlp' = Linear(D, D)·ReLU·Linear(D, feat_dim), 'linear' = Linear(D, feat_dim)"),
});
export type CiderNetArgs = z.infer<typeof ciderNetArgs>;

/** A network with a projection onto a unit hypersphere (the `cider` and `npos` trainers need one). */
export interface ProjectionNetwork extends Classifier {
  readonly embeddingDim: number;
  /** z [N, D] and the L2-normalised projection head(z) [N, feat_dim]. */
  forwardProjection(x: tf.Tensor4D, training?: boolean): { features: tf.Tensor2D; embedding: tf.Tensor2D };
}

export function isProjectionNetwork(network: Classifier): network is ProjectionNetwork {
  return typeof (network as Partial<ProjectionNetwork>).forwardProjection === 'function';
}

/** The projection head: an MLP or one linear layer, named as OpenOOD's `head` (head.0/head.2, or head). */
export class ProjectionHead {
  private readonly layers: Linear[];

  constructor(store: ParameterStore, name: string, inFeatures: number, outFeatures: number, kind: (typeof PROJECTION_HEADS)[number]) {
    this.layers =
      kind === 'mlp'
        ? [makeLinear(store, `${name}.0`, inFeatures, inFeatures), makeLinear(store, `${name}.2`, inFeatures, outFeatures)]
        : [makeLinear(store, name, inFeatures, outFeatures)];
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let y = linear(x, this.layers[0]!);
      for (const layer of this.layers.slice(1)) y = linear(tf.relu(y), layer);
      return y;
    });
  }
}

/**
 * CIDER's network (Ming et al. 2023, "How to Exploit Hyperspherical Embeddings for Out-of-Distribution
 * Detection?"; OpenOOD's CIDERNet): the backbone's z is projected by `head` and L2-normalised. OOD
 * scores use the normalised z itself (OpenOOD's `intermediate_forward`), which is what the feature
 * folder holds. CIDER trains no classifier: the class logits are the backbone's untouched final layer.
 */
export class CiderNet extends BackboneWrapper implements ProjectionNetwork {
  readonly name: string = 'cider_net';
  readonly embeddingDim: number;
  private readonly projection: ProjectionHead;

  constructor(backbone: Classifier, rng: Rng, args: Omit<CiderNetArgs, 'backbone'>) {
    super(backbone, rng);
    this.embeddingDim = args.feat_dim;
    this.projection = new ProjectionHead(this.store, 'head', this.featureDim, args.feat_dim, args.head);
  }

  /** The normalised projection of z. */
  project(features: tf.Tensor2D): tf.Tensor2D {
    this.checkFeatures(features);
    return tf.tidy(() => l2NormalizeRows(this.projection.apply(features)));
  }

  forwardProjection(x: tf.Tensor4D, training = false) {
    this.check(x);
    return tf.tidy(() => {
      const { features } = this.backbone.forwardFeatures(x, training);
      return { features, embedding: this.project(features) };
    });
  }
}

export const ciderNet = defineComponent({
  kind: 'network',
  name: 'cider_net',
  description: 'CIDER: a backbone with a projection head onto the unit hypersphere (mlp or linear, feat_dim 128)',
  args: ciderNetArgs,
  create: async (args, ctx) => new CiderNet(await buildBackbone('cider_net', args.backbone, ctx), ctx.rng.derive('heads'), args),
});
