import { tf } from '@oodkit/compute';
import { DataError, defineComponent, type Batch, type BuildContext, type Classifier, type ImageDataset, type Rng } from '@oodkit/core';
import { buildDataset, datasetSectionSchema } from '@oodkit/data';
import { normalizationArgs, normalizationOf } from '../augment/pixels.js';
import { z } from 'zod';
import * as ops from '../augment/pil-ops.js';
import type { Image8 } from '../augment/pil-ops.js';
import { crossEntropy } from '../losses.js';
import { sampleBeta } from '../optim/random.js';
import { SgdTrainer, optimizerArgs } from './sgd-trainer.js';

export const pixmixArgs = z.strictObject({
  ...optimizerArgs,
  k: z.int().min(0).default(4).describe('at most k mixing rounds per image (uniform in 0..k)'),
  beta: z.number().positive().default(3).describe('severity of mixing: the Beta parameter of the mixing coefficients'),
  aug_severity: z.number().positive().default(3).describe('severity of the base augmentations'),
  all_ops: z.boolean().default(true).describe('add color, contrast, brightness and sharpness to the base augmentations'),
  mixing_set: datasetSectionSchema
    .optional()
    .describe('images to mix with, at least the input size (randomly cropped to it); default: generated fractals 4 px larger'),
  mixing_count: z.int().positive().default(5000).describe('size of the default fractal mixing set'),
  ...normalizationArgs,
});
export type PixmixArgs = z.infer<typeof pixmixArgs>;

type Op = (img: Image8, severity: number, rng: Rng) => Image8;

/** sample_level(n) = U(0.1, n); int_parameter / float_parameter scale it by maxval / 10 (AugMix's conventions). */
const level = (rng: Rng, severity: number) => 0.1 + (severity - 0.1) * rng.uniform();
const intParameter = (l: number, maxval: number) => Math.trunc((l * maxval) / 10);
const floatParameter = (l: number, maxval: number) => (l * maxval) / 10;
const signed = (rng: Rng, v: number) => (rng.uniform() > 0.5 ? -v : v);

/** The PixMix/AugMix base augmentations (OpenOOD's `augmentations`), parameters drawn as the reference draws them. */
const BASE_OPS: readonly Op[] = [
  (img) => ops.autocontrast(img),
  (img) => ops.equalize(img),
  (img, s, rng) => ops.posterize(img, 4 - intParameter(level(rng, s), 4)),
  (img, s, rng) => ops.rotate(img, signed(rng, intParameter(level(rng, s), 30))),
  (img, s, rng) => ops.solarize(img, 256 - intParameter(level(rng, s), 256)),
  (img, s, rng) => ops.affine(img, [1, signed(rng, floatParameter(level(rng, s), 0.3)), 0, 0, 1, 0]),
  (img, s, rng) => ops.affine(img, [1, 0, 0, signed(rng, floatParameter(level(rng, s), 0.3)), 1, 0]),
  (img, s, rng) => ops.affine(img, [1, 0, signed(rng, intParameter(level(rng, s), img.w / 3)), 0, 1, 0]),
  (img, s, rng) => ops.affine(img, [1, 0, 0, 0, 1, signed(rng, intParameter(level(rng, s), img.h / 3))]),
];
/** `augmentations_all` adds the four ImageEnhance operations (factor 0.1 + 1.8·level/10). */
const ENHANCE_OPS: readonly Op[] = [ops.color, ops.contrast, ops.brightness, ops.sharpness].map(
  (enhance) => (img: Image8, s: number, rng: Rng) => enhance(img, floatParameter(level(rng, s), 1.8) + 0.1),
);

/** PixMix's mixing coefficients: (Beta(β,1), Beta(1,β)) or (1 + Beta(1,β), −Beta(1,β)), each with probability ½. */
export function mixingCoefficients(rng: Rng, beta: number): [number, number] {
  if (rng.uniform() < 0.5) return [Math.fround(sampleBeta(rng, beta, 1)), Math.fround(sampleBeta(rng, 1, beta))];
  return [1 + Math.fround(sampleBeta(rng, 1, beta)), -Math.fround(sampleBeta(rng, 1, beta))];
}

/** Additive mixing of [0, 1] images in [−1, 1] space: ((a(2x₁−1) + b(2x₂−1)) + 1)/2. */
export function mixAdd(x1: Float32Array, x2: Float32Array, a: number, b: number): Float32Array {
  return x1.map((v, i) => (a * (v * 2 - 1) + b * (x2[i]! * 2 - 1) + 1) / 2);
}

/** Multiplicative (geometric) mixing: (2x₁)^a · max(2x₂, 1e−37)^b / 2. */
export function mixMultiply(x1: Float32Array, x2: Float32Array, a: number, b: number): Float32Array {
  return x1.map((v, i) => ((v * 2) ** a * Math.max(x2[i]! * 2, 1e-37) ** b) / 2);
}

/** One PixMix image (Hendrycks et al. 2022, Algorithm 1 as OpenOOD's preprocessor): uint8 HWC in, [0, 1] floats out. */
export function pixmixImage(
  orig: Image8,
  mixingPic: Image8,
  rng: Rng,
  options: { k: number; beta: number; severity: number; allOps: boolean },
): Float32Array {
  const augmentations = options.allOps ? [...BASE_OPS, ...ENHANCE_OPS] : BASE_OPS;
  const augment = () => {
    const op = augmentations[rng.int(0, augmentations.length - 1)]!;
    return op(orig, options.severity, rng);
  };
  const toFloat = (img: Image8) => Float32Array.from(img.data, (v) => v / 255);
  let mixed: Float32Array = toFloat(rng.uniform() < 0.5 ? augment() : orig);
  const rounds = rng.int(0, options.k);
  for (let r = 0; r < rounds; r++) {
    const other = toFloat(rng.uniform() < 0.5 ? augment() : mixingPic);
    const multiply = rng.int(0, 1) === 1;
    const [a, b] = mixingCoefficients(rng, options.beta);
    mixed = (multiply ? mixMultiply : mixAdd)(mixed, other, a, b);
    for (let i = 0; i < mixed.length; i++) mixed[i] = Math.min(1, Math.max(0, mixed[i]!));
  }
  return mixed;
}

/**
 * PixMix as a trainer: every training batch (already through the benchmark's train chain, real and
 * SIO-synthetic alike) is mapped back to pixels, each image replaced by its PixMix mixture with the
 * augmented image and a random mixing-set picture, normalised again, and trained with cross-entropy
 * (OpenOOD runs PixMix as a preprocessor in front of the base trainer: the same computation).
 */
export class PixmixTrainer extends SgdTrainer {
  readonly name = 'pixmix';
  private pool?: { data: Uint8Array; count: number; shape: readonly [number, number, number] };

  constructor(
    private readonly args: PixmixArgs,
    rng: Rng,
    private readonly ctx: BuildContext,
  ) {
    super(args, rng);
  }

  private async mixingPool(h: number, w: number, c: number): Promise<NonNullable<PixmixTrainer['pool']>> {
    if (this.pool) return this.pool;
    const section = this.args.mixing_set ?? {
      name: 'fractals',
      args: { count: this.args.mixing_count, shape: [h + 4, w + 4, c], seed: 0 },
    };
    const set: ImageDataset = await buildDataset(section, this.ctx, 'trainer.args.mixing_set', 'pixmix-mixing-set');
    const [mh, mw, mc] = set.imageShape;
    if (mh < h || mw < w || mc !== c) {
      throw new DataError(
        `pixmix: mixing set '${set.name}' has ${mh}×${mw}×${mc} images; the inputs are ${h}×${w}×${c} (need ≥ H, W and equal C)`,
      );
    }
    const data = await set.readImages(Int32Array.from({ length: set.length }, (_, i) => i));
    this.pool = { data, count: set.length, shape: set.imageShape };
    return this.pool;
  }

  /** The PixMix batch as normalised NHWC floats (host side; the draws come from the trainer's stream). */
  async mixBatch(x: tf.Tensor4D): Promise<Float32Array> {
    const [n, h, w, c] = x.shape;
    const pool = await this.mixingPool(h, w, c);
    const norm = normalizationOf(this.args, this.ctx.config);
    const mean = (ch: number) => norm.mean[norm.mean.length === 1 ? 0 : ch]!;
    const std = (ch: number) => norm.std[norm.std.length === 1 ? 0 : ch]!;
    const values = (await x.data()) as Float32Array;
    const size = h * w * c;
    const out = new Float32Array(values.length);
    const [ph, pw] = pool.shape;
    for (let i = 0; i < n; i++) {
      const pixels = new Uint8Array(size);
      for (let p = 0; p < size; p++) {
        const v = Math.round((values[i * size + p]! * std(p % c) + mean(p % c)) * 255);
        pixels[p] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
      const pick = this.rng.int(0, pool.count - 1);
      const top = this.rng.int(0, ph - h);
      const left = this.rng.int(0, pw - w);
      const crop = new Uint8Array(size);
      for (let y = 0; y < h; y++) {
        const src = (pick * ph * pw + (top + y) * pw + left) * c;
        crop.set(pool.data.subarray(src, src + w * c), y * w * c);
      }
      const mixed = pixmixImage({ data: pixels, h, w, c }, { data: crop, h, w, c }, this.rng, {
        k: this.args.k,
        beta: this.args.beta,
        severity: this.args.aug_severity,
        allOps: this.args.all_ops,
      });
      for (let p = 0; p < size; p++) out[i * size + p] = (mixed[p]! - mean(p % c)) / std(p % c);
    }
    return out;
  }

  override async step(batch: Batch, outliers?: Batch) {
    const mixed = tf.tensor4d(await this.mixBatch(batch.x), batch.x.shape);
    try {
      return await super.step({ ...batch, x: mixed }, outliers);
    } finally {
      mixed.dispose();
    }
  }

  protected loss(network: Classifier, batch: Batch): tf.Scalar {
    return crossEntropy(network.forward(batch.x, true), batch.y);
  }
}

export const pixmix = defineComponent({
  kind: 'trainer',
  name: 'pixmix',
  description: 'PixMix: each training image mixed (add/multiply, up to k rounds) with its augmentations and a fractal; cross-entropy',
  args: pixmixArgs,
  create: (args, ctx) => new PixmixTrainer(args, ctx.rng, ctx),
});
