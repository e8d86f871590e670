import { tf } from '@oodkit/compute';
import { UsageError, type BuildContext, type Classifier, type Rng, type RngState } from '@oodkit/core';
import { z } from 'zod';
import { ParameterStore } from '../layers/params.js';

/** The `backbone` arg every wrapper network takes: any registered network, by name or {name, args}. */
export const backboneArg = z
  .union([z.string().min(1), z.strictObject({ name: z.string().min(1), args: z.record(z.string(), z.unknown()).optional() })])
  .default({ name: 'lenet' })
  .describe('the feature extractor (any registered network)');

/**
 * A backbone plus heads of the wrapper's own on its penultimate feature z (OpenOOD's ConfBranchNet,
 * RotNet, T2FNormNet, CIDERNet, NPOSNet). The class logits are the backbone's own final layer on z:
 * OpenOOD replaces the backbone's fc by a fresh `Linear(D, C)` of the same shape and initialisation, so
 * the function is the same (the state_dict names differ: `backbone.fc.*` here, `fc.*` there).
 * Parameters are `backbone.<name>` and the heads' names.
 */
export abstract class BackboneWrapper implements Classifier {
  abstract readonly name: string;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly featureDim: number;
  /** The backbone's blocks: forwardBlocks returns them, so the feature layers are the backbone's. */
  readonly blockNames?: readonly string[];
  protected readonly store: ParameterStore;
  private named?: Map<string, tf.Variable>;
  private disposed = false;
  readonly getRandomState?: () => RngState;
  readonly setRandomState?: (state: RngState) => void;

  constructor(
    readonly backbone: Classifier,
    rng: Rng,
  ) {
    this.inputShape = backbone.inputShape;
    this.numClasses = backbone.numClasses;
    this.featureDim = backbone.featureDim;
    this.blockNames = backbone.blockNames;
    this.store = new ParameterStore(rng);
    // the backbone's dropout stream (if it has one) is the wrapper's, for checkpoints
    if (backbone.getRandomState && backbone.setRandomState) {
      this.getRandomState = () => backbone.getRandomState!();
      this.setRandomState = (state) => backbone.setRandomState!(state);
    }
  }

  protected check(x: tf.Tensor4D): void {
    if (this.disposed) throw new UsageError(`network '${this.name}' was disposed`);
    const [h, w, c] = this.inputShape;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new UsageError(`network '${this.name}' expects input [N, ${h}, ${w}, ${c}] (NHWC), got [${x.shape.join(', ')}]`);
    }
  }

  protected checkFeatures(features: tf.Tensor2D): void {
    if (features.rank !== 2 || features.shape[1] !== this.featureDim) {
      throw new UsageError(`network '${this.name}': expects features [N, ${this.featureDim}], got [${features.shape.join(', ')}]`);
    }
  }

  forward(x: tf.Tensor4D, training = false): tf.Tensor2D {
    return tf.tidy(() => this.forwardFeatures(x, training).logits);
  }

  forwardFeatures(x: tf.Tensor4D, training = false): { logits: tf.Tensor2D; features: tf.Tensor2D } {
    this.check(x);
    return tf.tidy(() => {
      const { features } = this.backbone.forwardFeatures(x, training);
      return { logits: this.head(features), features };
    });
  }

  forwardBlocks(x: tf.Tensor4D): { logits: tf.Tensor2D; features: tf.Tensor2D; blocks: tf.Tensor4D[] } {
    this.check(x);
    return tf.tidy(() => {
      const out = this.backbone.forwardBlocks(x);
      return { logits: this.head(out.features), features: out.features, blocks: out.blocks };
    });
  }

  forwardThreshold(x: tf.Tensor4D, threshold: number): tf.Tensor2D {
    this.check(x);
    return tf.tidy(() => this.head(tf.minimum(this.backbone.forwardFeatures(x, false).features, threshold)));
  }

  head(features: tf.Tensor2D): tf.Tensor2D {
    this.checkFeatures(features);
    return this.backbone.head(features);
  }

  finalLayer(): { weight: tf.Tensor2D; bias: tf.Tensor1D } {
    return this.backbone.finalLayer();
  }

  trainableVariables(): tf.Variable[] {
    return [...this.backbone.trainableVariables(), ...this.store.trainables];
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    if (!this.named) {
      this.named = new Map();
      for (const [name, variable] of this.backbone.namedVariables()) this.named.set(`backbone.${name}`, variable);
      for (const [name, variable] of this.store.named) this.named.set(name, variable);
    }
    return this.named;
  }

  dispose(): void {
    this.disposed = true;
    this.store.dispose();
    this.backbone.dispose();
  }
}

/** Builds the `backbone` of a wrapper network (refusing a backbone that is already the same wrapper). */
export async function buildBackbone(wrapper: string, backbone: z.infer<typeof backboneArg>, ctx: BuildContext): Promise<Classifier> {
  const network = await ctx.registry.build<Classifier>(
    'network',
    backbone,
    { logger: ctx.logger, config: ctx.config, rng: ctx.rng.derive('backbone') },
    'network.args.backbone',
  );
  if (network.name === wrapper) {
    network.dispose();
    throw new UsageError(`${wrapper}: the backbone is already a ${wrapper} (network.args.backbone names '${wrapper}')`);
  }
  return network;
}
