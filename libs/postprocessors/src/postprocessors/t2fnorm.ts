import { tf } from '@oodkit/compute';
import { type Classifier, type ScoreBatch, type ScoreResult } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { WrapperNetworkPostprocessor, definePostprocessor } from '../lifecycle/index.js';
import { toScoreResult } from '../math/softmax.js';

export const t2fnormArgs = z.strictObject({});

/** What the score needs of the network: T2FNorm's inference logits fc(z/τ) (libs/networks `t2fnorm_net`). */
interface FeatureNormNetwork extends Classifier {
  readonly tau: number;
  inferenceLogits(features: Tensor2D): Tensor2D;
}

function isFeatureNorm(network: Classifier | undefined): network is FeatureNormNetwork {
  return typeof (network as Partial<FeatureNormNetwork> | undefined)?.inferenceLogits === 'function';
}

/**
 * T2FNorm's score (Regmi et al. 2023; OpenOOD's T2FNormPostprocessor): max softmax of fc(z/τ), the
 * un-normalised features scaled by the training temperature; pred = their argmax. (A t2fnorm_net's
 * feature folder holds z with the final layer (W/τ, b), so `msp` on that folder computes the same.)
 */
export class T2FNormPostprocessor extends WrapperNetworkPostprocessor<typeof t2fnormArgs, FeatureNormNetwork> {
  readonly name = 't2fnorm';
  override readonly networkUse = 'the feature-norm head of a t2fnorm-trained network';
  protected readonly requirement = "a feature-normalised network (t2fnorm_net, trained with trainer 't2fnorm')";

  protected isWrapper(network: Classifier | undefined): network is FeatureNormNetwork {
    return isFeatureNorm(network);
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const network = this.network;
    const [pred, conf] = tf.tidy(() => {
      const probabilities = tf.softmax(network.inferenceLogits(z));
      return [tf.argMax(probabilities, 1) as Tensor1D, tf.max(probabilities, 1) as Tensor1D];
    });
    return toScoreResult(pred, conf);
  }
}

export const t2fnormDefinition = definePostprocessor(
  {
    name: 't2fnorm',
    description: 'T2FNorm: max softmax of fc(z/τ) with the training temperature τ of a t2fnorm_net',
    args: t2fnormArgs,
  },
  T2FNormPostprocessor,
);
