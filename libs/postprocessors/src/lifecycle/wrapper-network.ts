import { UsageError, type Classifier, type PostprocessorSetupData, type ScoringModel } from '@oodkit/core';
import type { z } from 'zod';
import { BasePostprocessor } from './base-postprocessor.js';

/**
 * A score read from a head only a training method's wrapper network has (godin_net, conf_branch_net,
 * rot_net, t2fnorm_net): setup checks that the network is one and keeps it; that network is the
 * whole fitted state.
 */
export abstract class WrapperNetworkPostprocessor<S extends z.ZodObject, N extends Classifier> extends BasePostprocessor<S> {
  override readonly needsNetwork = true;
  /** The network the score needs, as the error names it, e.g. "a network with a rotation head (rot_net, ...)". */
  protected abstract readonly requirement: string;
  private wrapper?: N;

  protected abstract isWrapper(network: Classifier | undefined): network is N;

  protected get network(): N {
    if (!this.wrapper) throw new UsageError(`${this.name}: call setup(model, data) before scoring`);
    return this.wrapper;
  }

  protected override async fit(model: ScoringModel, _data: PostprocessorSetupData): Promise<void> {
    if (!this.isWrapper(model.network))
      throw new UsageError(`${this.name} scores ${this.requirement}; got '${model.network?.name ?? 'none'}'`);
    this.wrapper = model.network;
  }

  protected override releaseState(): void {
    this.wrapper = undefined;
    super.releaseState();
  }
}
