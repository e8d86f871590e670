import { tf } from '@oodkit/compute';
import {
  DataError,
  defineComponent,
  UsageError,
  type Classifier,
  type PostprocessorSetupData,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
} from '@oodkit/core';
import type { Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BasePostprocessor } from '../math/base.js';
import { argmax, toScoreResult } from '../math/softmax.js';
import { ODIN_STD } from './odin.js';

export const iodinArgs = z.strictObject({
  temperature: z.number().positive().default(1000).describe('temperature T of softmax(ℓ/T)'),
  noise: z.number().min(0).default(0.0014).describe('perturbation magnitude ε of the one perturbed input element'),
  std: z
    .array(z.number().positive())
    .min(1)
    .default([...ODIN_STD])
    .describe("per-channel std the gradient sign is divided by (OpenOOD's hard-coded CIFAR values, as odin)"),
});
export type IodinArgs = z.infer<typeof iodinArgs>;

/**
 * IODIN's input: x̃ = x − ε · s ⊙ m / std_c, with s = +1 where g = ∂CE(ℓ(x)/T, argmax ℓ(x))/∂x ≥ 0 and −1
 * elsewhere (CE averaged over the batch), and m the one-hot mask of each sample's largest |g| — a single
 * input element per sample is perturbed. NHWC: the channel is the last axis, and ties of |g| go to the
 * first element in HWC order (OpenOOD's argmax runs over CHW; the orders agree for one channel).
 */
export function iodinPerturb(network: Classifier, x: Tensor4D, args: IodinArgs): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, channels] = x.shape;
    if (args.std.length < channels) {
      throw new DataError(`iodin: inputs have ${channels} channels but std gives ${args.std.length} values (postprocessor.args.std)`);
    }
    const grad = tf.grad((input: tf.Tensor) => {
      const logp = tf.logSoftmax(tf.div(network.forward(input as Tensor4D, false), args.temperature));
      // CE at the argmax label is −max log softmax: one pass gives both the label and the loss
      return tf.neg(tf.mean(tf.max(logp, 1)));
    })(x) as Tensor4D;
    const flat = tf.reshape(grad, [n, h * w * channels]);
    const mask = tf.reshape(tf.oneHot(tf.argMax(tf.abs(flat), 1), h * w * channels), x.shape);
    const sign = tf.sub(tf.mul(tf.cast(tf.greaterEqual(grad, 0), 'float32'), 2), 1);
    const step = tf.div(tf.mul(sign, mask), tf.tensor1d(args.std.slice(0, channels), 'float32'));
    return tf.sub(x, tf.mul(step, args.noise)) as Tensor4D;
  });
}

/**
 * IODIN as OpenOOD's `iodin` postprocessor (an ODIN variant that perturbs only the input element with
 * the largest loss gradient, see iodinPerturb): conf = max softmax(ℓ(x̃)/T), pred = its argmax. Needs
 * the network (input gradients); grid as odin's (T ∈ {1, 10, 100, 1000}, ε ∈ {0.0014, 0.0028}).
 */
export class IodinPostprocessor extends BasePostprocessor<typeof iodinArgs> {
  readonly name = 'iodin';
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
    if (!x) throw new UsageError('iodin perturbs inputs: the score batch must carry `inputs` (scoring from features alone is impossible)');
    const network = this.network!;
    const logits = tf.tidy(() => tf.div(network.forward(iodinPerturb(network, x, this.args), false), this.args.temperature) as Tensor2D);
    try {
      const pred = argmax(logits);
      const conf = tf.tidy(() => tf.max(tf.softmax(logits), 1) as Tensor1D);
      return await toScoreResult(pred, conf);
    } finally {
      logits.dispose();
    }
  }
}

export const iodinDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'iodin',
  description: 'IODIN: ODIN with only the largest-gradient input element perturbed',
  args: iodinArgs,
  grid: { temperature: [1, 10, 100, 1000], noise: [0.0014, 0.0028] },
  create: (args) => new IodinPostprocessor(iodinArgs, args),
});
