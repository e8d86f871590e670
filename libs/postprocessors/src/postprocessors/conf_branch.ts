import { tf } from '@oodkit/compute';
import { type Classifier, type ScoreBatch, type ScoreResult } from '@oodkit/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { WrapperNetworkPostprocessor, definePostprocessor } from '../lifecycle/index.js';
import { argmax, toScoreResult } from '../math/softmax.js';

export const confBranchArgs = z.strictObject({});

/** What the score needs of the network: the confidence branch (libs/networks `conf_branch_net`). */
interface ConfidenceNetwork extends Classifier {
  confidenceOf(features: Tensor2D): Tensor2D;
}

function hasConfidence(network: Classifier | undefined): network is ConfidenceNetwork {
  return typeof (network as Partial<ConfidenceNetwork> | undefined)?.confidenceOf === 'function';
}

/**
 * Learned confidence (DeVries & Taylor 2018) as OpenOOD's ConfBranchPostprocessor: conf = sigmoid of
 * the confidence branch, pred = argmax of the class logits. The branch acts on z, so the batch's
 * features suffice, but its weights live in the network (a feature folder does not carry them).
 */
export class ConfBranchPostprocessor extends WrapperNetworkPostprocessor<typeof confBranchArgs, ConfidenceNetwork> {
  readonly name = 'conf_branch';
  override readonly networkUse = 'the confidence branch of a conf_branch-trained network';
  protected readonly requirement = "a network with a confidence branch (conf_branch_net, trained with trainer 'conf_branch')";

  protected isWrapper(network: Classifier | undefined): network is ConfidenceNetwork {
    return hasConfidence(network);
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const z = this.features(batch);
    const network = this.network;
    const pred = tf.tidy(() => argmax(network.head(z)));
    const conf = tf.tidy(() => tf.reshape(tf.sigmoid(network.confidenceOf(z)), [-1]) as Tensor1D);
    return toScoreResult(pred, conf);
  }
}

export const confBranchDefinition = definePostprocessor(
  {
    name: 'conf_branch',
    description: 'learned confidence: sigmoid of the confidence branch of a conf_branch_net (DeVries & Taylor 2018)',
    args: confBranchArgs,
  },
  ConfBranchPostprocessor,
);
