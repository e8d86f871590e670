import { tf } from '@oodkit/compute';
import { defineComponent, UsageError, type Batch, type Classifier, type Rng, type StepResult, type TrainingPlan } from '@oodkit/core';
import { isConfidenceBranchNetwork, type ConfidenceBranchNetwork } from '@oodkit/networks';
import { z } from 'zod';
import { oneHot } from '../losses.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const confBranchTrainerArgs = z.strictObject({
  ...optimizerArgs,
  budget: z
    .number()
    .positive()
    .default(0.3)
    .describe('β: target of the confidence loss; λ shrinks while the loss is below it (OpenOOD: 0.3)'),
  lmbda: z.number().positive().default(0.1).describe('initial weight λ of the confidence loss (OpenOOD: 0.1)'),
  eps: z.number().positive().max(0.5).default(1e-12).describe('clamp of the softmax and of c to [eps, 1 − eps] (OpenOOD: 1e-12)'),
  baseline: z.boolean().default(false).describe('OpenOOD `baseline: True`: no hints and no confidence loss (plain NLL)'),
});
export type ConfBranchTrainerArgs = z.infer<typeof confBranchTrainerArgs>;

/** What one conf_branch step computes; `hints` b_n ∈ {0, 1} (1 = no hint), as drawn by the trainer. */
export function confBranchLoss(
  network: ConfidenceBranchNetwork,
  batch: Batch,
  options: { lmbda: number; eps: number; hints?: tf.Tensor2D; training?: boolean },
): { total: tf.Scalar; confidenceLoss: tf.Scalar } {
  return tf.tidy(() => {
    const { logits, confidence } = network.forwardWithConfidence(batch.x, options.training ?? true);
    const { eps } = options;
    const p = tf.clipByValue(tf.softmax(logits), eps, 1 - eps);
    const c = tf.clipByValue(tf.sigmoid(confidence), eps, 1 - eps);
    const confidenceLoss = tf.mean(tf.neg(tf.log(c))) as tf.Scalar;
    const target = oneHot(batch.y, logits.shape[1]);
    let mixed: tf.Tensor = p;
    if (options.hints) {
      // c' = c·b + (1 − b); p' = c'·p + (1 − c')·onehot(y): the hint pulls p towards the label where b = 0
      const cHint = tf.add(tf.mul(c, options.hints), tf.sub(1, options.hints));
      mixed = tf.add(tf.mul(p, cHint), tf.mul(target, tf.sub(1, cHint)));
    }
    const nll = tf.neg(tf.mean(tf.sum(tf.mul(target, tf.log(mixed)), 1))) as tf.Scalar;
    const total = options.hints ? (tf.add(nll, tf.mul(confidenceLoss, options.lmbda)) as tf.Scalar) : nll;
    return { total, confidenceLoss };
  });
}

/** OpenOOD's budget rule: λ /= 1.01 while the confidence loss is under the budget β, else λ /= 0.99. */
export function nextLambda(lmbda: number, budget: number, confidenceLoss: number): number {
  return budget > confidenceLoss ? lmbda / 1.01 : lmbda / 0.99;
}

/**
 * Learned confidence (DeVries & Taylor 2018) as OpenOOD's ConfBranchTrainer: p = clamp(softmax),
 * c = clamp(sigmoid(confidence)); a Bernoulli(u), u ~ U(0, 1) mask b per sample gives half the
 * samples a hint, p' = c'·p + (1 − c')·onehot(y) with c' = c·b + (1 − b); loss = NLL(log p') + λ·mean(−log c),
 * and after each step λ follows the budget rule ({@link nextLambda}) on that step's confidence loss.
 * λ is checkpointed with the optimiser state.
 */
export class ConfBranchTrainer extends SgdTrainer {
  readonly name = 'conf_branch';
  readonly networkWrapper = 'conf_branch_net';
  private lmbda: number;
  private lastConfidenceLoss = Number.NaN;

  constructor(
    private readonly args: ConfBranchTrainerArgs,
    rng: Rng,
  ) {
    super(args, rng);
    this.lmbda = args.lmbda;
  }

  get lambda(): number {
    return this.lmbda;
  }

  override init(network: Classifier, plan: TrainingPlan): void {
    if (!isConfidenceBranchNetwork(network)) {
      throw new UsageError(
        `trainer 'conf_branch' trains a network with a confidence branch (network: {name: conf_branch_net, args: {backbone: ...}}), got '${network.name}'`,
      );
    }
    super.init(network, plan);
    this.lmbda = this.args.lmbda;
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    const n = batch.x.shape[0];
    let hints: tf.Tensor2D | undefined;
    if (!this.args.baseline) {
      const b = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const u = this.rng.uniform();
        b[i] = this.rng.uniform() < u ? 1 : 0;
      }
      hints = tf.tensor2d(b, [n, 1]);
    }
    const { total, confidenceLoss } = confBranchLoss(network as ConfidenceBranchNetwork, batch, {
      lmbda: this.lmbda,
      eps: this.args.eps,
      hints,
    });
    hints?.dispose();
    this.lastConfidenceLoss = confidenceLoss.dataSync()[0]!;
    confidenceLoss.dispose();
    return total;
  }

  override async step(batch: Batch, outliers?: Batch): Promise<StepResult> {
    const before = this.stepsDone;
    const result = await super.step(batch, outliers);
    if (!this.args.baseline && this.stepsDone > before) this.lmbda = nextLambda(this.lmbda, this.args.budget, this.lastConfidenceLoss);
    return result;
  }

  protected override methodState() {
    return { slots: {}, extra: { lmbda: this.lmbda } };
  }

  protected override setMethodState(slots: Record<string, Float32Array>, extra: Record<string, unknown>): void {
    super.setMethodState(slots, {});
    if (typeof extra.lmbda === 'number') this.lmbda = extra.lmbda;
  }
}

export const confBranch = defineComponent({
  kind: 'trainer',
  name: 'conf_branch',
  description:
    'learned confidence (DeVries & Taylor): hinted NLL + λ·(−log c), λ kept near the budget β; needs conf_branch_net (wrapped automatically)',
  args: confBranchTrainerArgs,
  create: (args, ctx) => new ConfBranchTrainer(args, ctx.rng),
});
