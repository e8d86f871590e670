import { tf } from '@oodkit/compute';
import {
  DataError,
  defineComponent,
  UsageError,
  type BuildContext,
  type Classifier,
  type ScoreBatch,
  type ScoreResult,
} from '@oodkit/core';
import type { Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { WrapperNetworkPostprocessor } from '../lifecycle/index.js';
import { toScoreResult } from '../math/softmax.js';

export const godinArgs = z.strictObject({
  score_func: z.enum(['h', 'g']).default('h').describe('score from h(x̃) (class similarities) or from g(x̃) (the learned confidence)'),
  noise_magnitude: z.number().min(0).default(0.0025).describe('perturbation magnitude ε (OpenOOD: 0.0025)'),
  h_score: z
    .enum(['softmax', 'max'])
    .default('softmax')
    .describe("score_func h: 'softmax' = max softmax(h) as OpenOOD; 'max' = max h, the paper's S(x)"),
  std: z
    .array(z.number().positive())
    .min(1)
    .optional()
    .describe("per-channel std the gradient sign is divided by; default: the benchmark's normalisation std, else 0.5 (OpenOOD's fallback)"),
});
export type GodinArgs = z.infer<typeof godinArgs>;

/** What the `godin` postprocessor needs of the network: G-ODIN's factors h(x) and g(x) (libs/networks `godin_net`). */
interface DecomposedNetwork extends Classifier {
  forwardDecomposed(x: Tensor4D, training?: boolean): { numerators: Tensor2D; denominators: Tensor2D };
}

function isDecomposed(network: Classifier | undefined): network is DecomposedNetwork {
  return typeof (network as Partial<DecomposedNetwork> | undefined)?.forwardDecomposed === 'function';
}

/**
 * x̃ = x + ε · s / std_c with s = +1 where ∂(Σ_n max_c h_c(x_n))/∂x ≥ 0 and −1 elsewhere (torch.ge:
 * a zero gradient counts as +1): a step that *raises* the largest class similarity (OpenOOD's G-ODIN
 * perturbs along h for both score functions). NHWC, so the channel is the last axis.
 */
export function godinPerturb(network: DecomposedNetwork, x: Tensor4D, noise: number, std: readonly number[]): Tensor4D {
  return tf.tidy(() => {
    const channels = x.shape[3];
    if (std.length !== 1 && std.length < channels) {
      throw new DataError(`godin: inputs have ${channels} channels but std gives ${std.length} values (postprocessor.args.std)`);
    }
    const grad = tf.grad((input: tf.Tensor) => tf.sum(tf.max(network.forwardDecomposed(input as Tensor4D, false).numerators, 1)))(x);
    const sign = tf.sub(tf.mul(tf.cast(tf.greaterEqual(grad, 0), 'float32'), 2), 1);
    const perChannel = std.length === 1 ? new Array<number>(channels).fill(std[0]!) : std.slice(0, channels);
    return tf.add(x, tf.mul(tf.div(sign, tf.tensor1d(perChannel, 'float32')), noise)) as Tensor4D;
  });
}

/**
 * G-ODIN's score (Hsu et al. 2020, OpenOOD's GodinPostprocessor): perturb the input to raise max_c h_c,
 * then conf = max softmax(h(x̃)) (`h_score: max`: max h(x̃), the paper's form), pred = argmax h(x̃).
 * `score_func: g` scores g(x̃) itself: OpenOOD takes a softmax over g's single column, which is 1 for
 * every input, so its `g` mode cannot rank anything; we use the paper's S(x) = g(x).
 */
export class GodinPostprocessor extends WrapperNetworkPostprocessor<typeof godinArgs, DecomposedNetwork> {
  readonly name = 'godin';
  override readonly networkUse = 'input gradients and the G-ODIN head';
  protected readonly requirement = "a decomposed-confidence network (godin_net, trained with trainer 'godin')";

  constructor(
    args: GodinArgs,
    private readonly defaultStd: readonly number[],
  ) {
    super(godinArgs, args);
  }

  protected isWrapper(network: Classifier | undefined): network is DecomposedNetwork {
    return isDecomposed(network);
  }

  protected async scoreBatch(batch: ScoreBatch): Promise<ScoreResult> {
    const x = batch.inputs;
    if (!x) throw new UsageError('godin perturbs inputs: the score batch must carry `inputs` (scoring from features alone is impossible)');
    const network = this.network;
    const { score_func, noise_magnitude, h_score } = this.args;
    const [pred, conf] = tf.tidy(() => {
      const perturbed = godinPerturb(network, x, noise_magnitude, this.args.std ?? this.defaultStd);
      const { numerators, denominators } = network.forwardDecomposed(perturbed, false);
      const p = tf.argMax(numerators, 1) as Tensor1D;
      if (score_func === 'g') return [p, tf.reshape(denominators, [-1]) as Tensor1D];
      return [p, (h_score === 'max' ? tf.max(numerators, 1) : tf.max(tf.softmax(numerators), 1)) as Tensor1D];
    });
    return toScoreResult(pred, conf);
  }
}

/** The normalisation std of an inline benchmark mapping in the run's config, else OpenOOD's fallback 0.5. */
export function benchmarkStd(config: BuildContext['config']): number[] {
  const benchmark = config.benchmark as { normalization?: { std?: unknown } } | undefined;
  const std = typeof benchmark === 'object' ? benchmark?.normalization?.std : undefined;
  return Array.isArray(std) && std.every((v) => typeof v === 'number' && v > 0) ? (std as number[]) : [0.5];
}

export const godinDefinition = defineComponent({
  kind: 'postprocessor',
  name: 'godin',
  description: "G-ODIN: max softmax of h(x̃) (or g(x̃)) after an input step that raises h's maximum; needs a godin_net",
  args: godinArgs,
  create: (args, ctx) => new GodinPostprocessor(args, benchmarkStd(ctx.config)),
});
