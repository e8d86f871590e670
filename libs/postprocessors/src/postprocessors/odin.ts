import { tf } from '@oodkit/compute';
import {
  DataError,
  UsageError,
  type Classifier,
  type PostprocessorSetupData,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePostprocessor, BasePostprocessor } from '../lifecycle/index.js';
import { argmax, toScoreResult } from '../math/softmax.js';

/** The per-channel std OpenOOD's ODIN divides the gradient sign by (the original ODIN code's CIFAR values). */
export const ODIN_STD = [63.0 / 255.0, 62.1 / 255.0, 66.7 / 255.0] as const;

export const odinArgs = z.strictObject({
  temperature: z.number().positive().default(1000).describe('temperature T of softmax(ℓ/T)'),
  noise: z.number().min(0).default(0.0014).describe('perturbation magnitude ε'),
  std: z
    .array(z.number().positive())
    .min(1)
    .default([...ODIN_STD])
    .describe('per-channel std the gradient sign is divided by; OpenOOD hard-codes the CIFAR values'),
});

/**
 * x̃ = x − ε · s / std_c with s = +1 where ∂CE(ℓ(x)/T, ŷ)/∂x ≥ 0 and −1 elsewhere (torch.ge: a zero
 * gradient counts as +1), ŷ = argmax ℓ(x), CE averaged over the batch as nn.CrossEntropyLoss.
 * Inputs are NHWC, so the channel is the last axis. CE at the argmax label equals
 * −max_c log_softmax(ℓ/T)_c, which lets one forward pass give both ŷ and the gradient.
 */
export function odinPerturb(network: Classifier, x: Tensor4D, temperature: number, noise: number, std: readonly number[]): Tensor4D {
  return tf.tidy(() => {
    const channels = x.shape[3];
    if (std.length < channels) {
      throw new DataError(`odin: inputs have ${channels} channels but std gives ${std.length} values (postprocessor.args.std)`);
    }
    const loss = (input: tf.Tensor) => {
      const logits = network.forward(input as Tensor4D, false);
      const logp = tf.logSoftmax(tf.div(logits, temperature));
      return tf.neg(tf.mean(tf.max(logp, 1)));
    };
    const grad = tf.grad(loss)(x) as Tensor4D;
    const sign = tf.sub(tf.mul(tf.cast(tf.greaterEqual(grad, 0), 'float32'), 2), 1);
    const scaled = tf.div(sign, tf.tensor1d(std.slice(0, channels), 'float32'));
    return tf.sub(x, tf.mul(scaled, noise)) as Tensor4D;
  });
}

/** ODIN (Liang et al. 2018): conf = max softmax(ℓ(x̃)/T) of the perturbed input, pred = its argmax. */
export class OdinPostprocessor extends BasePostprocessor<typeof odinArgs> {
  readonly name = 'odin';
  override readonly needsNetwork = true;
  override readonly networkUse = 'input gradients';
  private network?: Classifier;

  protected override async fit(model: ScoringModel, _data: PostprocessorSetupData): Promise<void> {
    this.network = model.network;
  }

  protected override releaseState(): void {
    this.network = undefined;
    super.releaseState();
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const x = batch.inputs;
    if (!x) throw new UsageError('odin perturbs inputs: the score batch must carry `inputs` (scoring from features alone is impossible)');
    const { temperature, noise, std } = this.args;
    const network = this.network!;
    const logits = tf.tidy(() => {
      const perturbed = odinPerturb(network, x, temperature, noise, std);
      return tf.div(network.forward(perturbed, false), temperature) as Tensor2D;
    });
    try {
      const pred = argmax(logits);
      const conf = tf.tidy(() => tf.max(tf.softmax(logits), 1) as Tensor1D);
      return await toScoreResult(pred, conf);
    } finally {
      logits.dispose();
    }
  }
}

export const odinDefinition = definePostprocessor(
  {
    name: 'odin',
    description: 'ODIN: temperature-scaled max softmax of an input perturbed against the gradient',
    args: odinArgs,
    grid: { temperature: [1, 10, 100, 1000], noise: [0.0014, 0.0028] },
  },
  OdinPostprocessor,
);
