import { tf } from '@oodkit/compute';
import { defineComponent, type Batch, type BuildContext, type Classifier, type Rng } from '@oodkit/core';
import { z } from 'zod';
import type { Image8 } from '../augment/pil-ops.js';
import { imageOf, normalizationArgs, normalizationOf, toUnit, writeNormalized } from '../augment/pixels.js';
import { applyOp, augMixSpace } from '../augment/torchvision-ops.js';
import { crossEntropy } from '../losses.js';
import { sampleGamma } from '../optim/random.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const augmixArgs = z.strictObject({
  ...optimizerArgs,
  severity: z.int().min(1).max(10).default(1).describe('ops draw their magnitude from the first `severity` of 10 bins (OpenOOD: 1)'),
  mixture_width: z.int().positive().default(3).describe('augmentation chains mixed per image'),
  chain_depth: z.int().default(-1).describe('ops per chain; ≤ 0: uniform in 1..3 per chain'),
  alpha: z.number().positive().default(1).describe('Dirichlet / Beta parameter of the mixing weights'),
  all_ops: z.boolean().default(true).describe('include brightness, color, contrast and sharpness'),
  jsd: z.boolean().default(true).describe('train on (clean, aug1, aug2) with the Jensen–Shannon consistency loss'),
  lam: z.number().min(0).default(12).describe('weight of the JSD term (OpenOOD: 12)'),
  ...normalizationArgs,
});
export type AugMixArgs = z.infer<typeof augmixArgs>;

/** Dirichlet(α·1ₖ) by normalised Gamma(α) draws (torch._sample_dirichlet's distribution). */
export function sampleDirichlet(rng: Rng, alpha: number, k: number): number[] {
  const g = Array.from({ length: k }, () => sampleGamma(rng, alpha));
  const sum = g.reduce((a, b) => a + b, 0);
  return g.map((v) => v / sum);
}

/**
 * torchvision's AugMix forward on one image: m ~ Dirichlet(α, α); chain weights Dirichlet(α·1_width)·m₁;
 * mix = m₀·x + Σᵢ wᵢ·chainᵢ(x), each chain `depth` ops (random op, magnitude from the first `severity`
 * bins, sign ½ for signed ops), computed in float32 and cast to uint8 (truncation) as torch does.
 */
export function augmixImage(
  img: Image8,
  rng: Rng,
  options: { severity: number; width: number; depth: number; alpha: number; allOps: boolean },
): Image8 {
  const space = augMixSpace(img.h, img.w, options.allOps);
  const f = Math.fround;
  const [m0, m1] = sampleDirichlet(rng, options.alpha, 2).map(f) as [number, number];
  const weights = sampleDirichlet(rng, options.alpha, options.width).map((v) => f(f(v) * m1));
  const mix = Float32Array.from(img.data, (v) => f(m0 * v));
  for (let i = 0; i < options.width; i++) {
    let aug = img;
    const depth = options.depth > 0 ? options.depth : rng.int(1, 3);
    for (let d = 0; d < depth; d++) {
      const op = space[rng.int(0, space.length - 1)]!;
      let magnitude = op.magnitudes ? op.magnitudes[rng.int(0, options.severity - 1)]! : 0;
      if (op.signed && rng.int(0, 1) === 1) magnitude = -magnitude;
      aug = applyOp(aug, op.name, magnitude);
    }
    const w = weights[i]!;
    for (let p = 0; p < mix.length; p++) mix[p] = f(mix[p]! + f(w * aug.data[p]!));
  }
  return { data: Uint8Array.from(mix, (v) => Math.min(255, Math.max(0, Math.trunc(v)))), h: img.h, w: img.w, c: img.c };
}

/**
 * AugMix's Jensen–Shannon consistency (OpenOOD's AugMixTrainer): M = clamp((p_clean + p_aug1 + p_aug2)/3,
 * 1e−7, 1); the mean over the three of KL(p ‖ M) = Σ p·(log p − log M), each averaged over the batch
 * (`kl_div(log M, p, reduction='batchmean')`).
 */
export function jsdConsistency(clean: tf.Tensor2D, aug1: tf.Tensor2D, aug2: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const ps = [clean, aug1, aug2].map((l) => tf.softmax(l));
    const logM = tf.log(tf.clipByValue(tf.div(tf.addN(ps), 3), 1e-7, 1));
    const n = clean.shape[0];
    // xlogy: a zero probability contributes 0, as torch's kl_div
    const kl = (p: tf.Tensor2D) => tf.div(tf.sum(tf.mul(p, tf.sub(tf.log(tf.maximum(p, 1e-30)), logM))), n);
    return tf.div(tf.addN(ps.map((p) => kl(p as tf.Tensor2D))), 3) as tf.Scalar;
  });
}

/**
 * AugMix (Hendrycks et al. 2020) as OpenOOD runs it: its augmix preprocessor (torchvision.transforms.AugMix)
 * in front of its AugMixTrainer. With `jsd`, each training image yields (clean, aug1, aug2), the three
 * batches go through the network together, and the loss is CE(clean) + lam·JSD; without, the AugMix
 * image alone with cross-entropy. Real and SIO-synthetic images alike.
 */
export class AugMixTrainer extends SgdTrainer {
  readonly name = 'augmix';

  constructor(
    private readonly args: AugMixArgs,
    rng: Rng,
    private readonly ctx: BuildContext,
  ) {
    super(args, rng);
  }

  /** `views` AugMix images of every image of the batch (draws per image, in view order), normalised NHWC. */
  async augmentBatch(x: tf.Tensor4D, views: number): Promise<Float32Array[]> {
    const [n, h, w, c] = x.shape;
    const norm = normalizationOf(this.args, this.ctx.config);
    const values = (await x.data()) as Float32Array;
    const outs = Array.from({ length: views }, () => new Float32Array(values.length));
    const options = {
      severity: this.args.severity,
      width: this.args.mixture_width,
      depth: this.args.chain_depth,
      alpha: this.args.alpha,
      allOps: this.args.all_ops,
    };
    for (let i = 0; i < n; i++) {
      const img = imageOf(values, i, [h, w, c], norm);
      for (const out of outs) writeNormalized(out, i, toUnit(augmixImage(img, this.rng, options)), c, norm);
    }
    return outs;
  }

  override async step(batch: Batch, outliers?: Batch) {
    const [n, h, w, c] = batch.x.shape;
    const views = await this.augmentBatch(batch.x, this.args.jsd ? 2 : 1);
    let x: tf.Tensor4D;
    if (this.args.jsd) {
      // OpenOOD's clean view is the (re-)normalised pixel image: the batch itself up to float rounding.
      const augmented = views.map((v) => tf.tensor4d(v, [n, h, w, c]));
      x = tf.concat([batch.x, ...augmented]);
      tf.dispose(augmented);
    } else {
      x = tf.tensor4d(views[0]!, [n, h, w, c]);
    }
    try {
      return await super.step({ ...batch, x }, outliers);
    } finally {
      x.dispose();
    }
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    if (!this.args.jsd) return crossEntropy(network.forward(batch.x, true), batch.y);
    const n = batch.y.shape[0];
    const logits = network.forward(batch.x, true);
    const [clean, aug1, aug2] = tf.split(logits, [n, n, n]) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    return tf.add(crossEntropy(clean, batch.y), tf.mul(jsdConsistency(clean, aug1, aug2), this.args.lam));
  }
}

export const augmix = defineComponent({
  kind: 'trainer',
  name: 'augmix',
  description: 'AugMix (severity 1, width 3, depth 1–3) with the JSD consistency loss (λ 12) as OpenOOD; or the AugMix image with CE',
  args: augmixArgs,
  create: (args, ctx) => new AugMixTrainer(args, ctx.rng, ctx),
});
