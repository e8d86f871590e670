import { z } from 'zod';
import { DataError, Rng, defineComponent, type ImageDataset, type Logger } from '@oodkit/core';
import { tf } from '@oodkit/compute';
import type { GeneratorProgress, SyntheticGenerator } from './types.js';

export const cganArgs = z.strictObject({
  latent: z.number().int().positive().default(64).describe('dimension of the noise z'),
  width: z
    .number()
    .int()
    .positive()
    .default(16)
    .describe('channels of the 14×14 layers; the 7×7 layers have twice as many (DCGAN doubling)'),
  epochs: z.number().int().positive().default(3),
  batch_size: z.number().int().positive().default(64),
  lr: z.number().positive().default(2e-4).describe('Adam learning rate of G and D (DCGAN: 2e-4, β1 0.5)'),
  beta1: z.number().min(0).max(1).default(0.5),
  class_weight: z.number().min(0).default(1).describe("weight of the auxiliary classifier's cross-entropy in both losses (AC-GAN)"),
  seed: z.number().int().default(0).describe('fixed by default, so every run of a benchmark shares one synthetic set (as SIO does)'),
});
export type CganArgs = z.infer<typeof cganArgs>;

type GParams = Record<'fcW' | 'fcb' | 'bn0g' | 'bn0b' | 'up1W' | 'bn1g' | 'bn1b' | 'up2W' | 'up2b', tf.Variable>;
type DParams = Record<'c1W' | 'c1b' | 'c2W' | 'c2b' | 'srcW' | 'srcb' | 'clsW' | 'clsb', tf.Variable>;

function ownedVariable(initial: tf.Tensor): tf.Variable {
  const v = tf.variable(initial, true);
  initial.dispose();
  return v;
}

/** N(0, 0.02) weights from the seeded stream (DCGAN's initialisation), zero biases, unit BN scales. */
function normal(shape: number[], rng: Rng): tf.Variable {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = rng.normal(0, 0.02);
  return ownedVariable(tf.tensor(values, shape));
}

/** Batch norm with the batch's own statistics (G runs so in training and sampling, as many GAN codes do). */
function batchNorm(x: tf.Tensor4D, gamma: tf.Variable, beta: tf.Variable): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm4d(x, mean as tf.Tensor1D, variance as tf.Tensor1D, beta as tf.Tensor1D, gamma as tf.Tensor1D, 1e-5);
}

const leaky = (x: tf.Tensor) => tf.leakyRelu(x, 0.2);

/** Mean binary cross-entropy with logits against a constant target t ∈ {0, 1}. */
function bceWithLogits(logits: tf.Tensor, target: 0 | 1): tf.Scalar {
  // max(l, 0) − l·t + log(1 + e^{−|l|})
  const l = target === 1 ? tf.neg(logits) : logits;
  return tf.mean(tf.add(tf.relu(l), tf.log1p(tf.exp(tf.neg(tf.abs(l)))))) as tf.Scalar;
}

function crossEntropy(logits: tf.Tensor2D, onehot: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

/**
 * Class-conditional DCGAN for 28×28 gray images with an auxiliary classifier (AC-GAN, Odena et al.
 * 2017). G: [z ‖ onehot(y)] → dense 7×7×2w → BN, ReLU → 4×4 transposed conv /2 → 14×14×w → BN, ReLU →
 * 4×4 transposed conv /2 → 28×28×1, tanh. D: 4×4 conv /2 → 14×14×w, LeakyReLU 0.2 → 4×4 conv /2 →
 * 7×7×2w, LeakyReLU → two linear heads, real/fake and the C class logits. Losses: D = BCE(real, 1) +
 * BCE(fake, 0) + λ·(CE(real, y) + CE(fake, y)); G = BCE(fake, 1) + λ·CE(fake, y) (non-saturating).
 * Adam (2e-4, β1 0.5) for both, one D step then one G step per batch. Sized for 2 CPU cores
 * (w = 32: ~2.9 M multiply-adds per image through G and D; docs/decisions.md has the measured cost).
 */
export class ConditionalGan implements SyntheticGenerator {
  readonly name = 'cgan';
  readonly settings: Readonly<Record<string, unknown>>;
  private g: GParams | undefined;
  private d: DParams | undefined;
  private shape: readonly [number, number, number] | undefined;
  private numClasses = 0;

  constructor(private readonly args: CganArgs) {
    this.settings = { ...args };
  }

  private init(numClasses: number, rng: Rng): void {
    const { latent, width: w } = this.args;
    this.g = {
      fcW: normal([latent + numClasses, 7 * 7 * 2 * w], rng.derive('g.fc')),
      fcb: ownedVariable(tf.zeros([7 * 7 * 2 * w])),
      bn0g: ownedVariable(tf.ones([2 * w])),
      bn0b: ownedVariable(tf.zeros([2 * w])),
      // conv2dTranspose filters are [kh, kw, out, in]
      up1W: normal([4, 4, w, 2 * w], rng.derive('g.up1')),
      bn1g: ownedVariable(tf.ones([w])),
      bn1b: ownedVariable(tf.zeros([w])),
      up2W: normal([4, 4, 1, w], rng.derive('g.up2')),
      up2b: ownedVariable(tf.zeros([1])),
    };
    this.d = {
      c1W: normal([4, 4, 1, w], rng.derive('d.c1')),
      c1b: ownedVariable(tf.zeros([w])),
      c2W: normal([4, 4, w, 2 * w], rng.derive('d.c2')),
      c2b: ownedVariable(tf.zeros([2 * w])),
      srcW: normal([7 * 7 * 2 * w, 1], rng.derive('d.src')),
      srcb: ownedVariable(tf.zeros([1])),
      clsW: normal([7 * 7 * 2 * w, numClasses], rng.derive('d.cls')),
      clsb: ownedVariable(tf.zeros([numClasses])),
    };
  }

  /** Images in [−1, 1], NHWC [n, 28, 28, 1]. */
  private generate(g: GParams, z: tf.Tensor2D, onehot: tf.Tensor2D): tf.Tensor4D {
    const w = this.args.width;
    const n = z.shape[0];
    const h0 = tf.relu(batchNorm(tf.reshape(tf.add(tf.matMul(tf.concat([z, onehot], 1), g.fcW), g.fcb), [n, 7, 7, 2 * w]), g.bn0g, g.bn0b));
    const h1 = tf.relu(batchNorm(tf.conv2dTranspose(h0, g.up1W as tf.Tensor4D, [n, 14, 14, w], 2, 'same'), g.bn1g, g.bn1b));
    return tf.tanh(tf.add(tf.conv2dTranspose(h1, g.up2W as tf.Tensor4D, [n, 28, 28, 1], 2, 'same'), g.up2b)) as tf.Tensor4D;
  }

  private discriminate(d: DParams, x: tf.Tensor4D): { src: tf.Tensor2D; cls: tf.Tensor2D } {
    const h1 = leaky(tf.add(tf.conv2d(x, d.c1W as tf.Tensor4D, 2, 'same'), d.c1b)) as tf.Tensor4D;
    const h2 = leaky(tf.add(tf.conv2d(h1, d.c2W as tf.Tensor4D, 2, 'same'), d.c2b));
    const f = tf.reshape(h2, [x.shape[0], -1]) as tf.Tensor2D;
    return { src: tf.add(tf.matMul(f, d.srcW), d.srcb) as tf.Tensor2D, cls: tf.add(tf.matMul(f, d.clsW), d.clsb) as tf.Tensor2D };
  }

  async fit(data: ImageDataset, options: { logger: Logger; onProgress?: (p: GeneratorProgress) => void }): Promise<void> {
    const [hh, ww, cc] = data.imageShape;
    if (hh !== 28 || ww !== 28 || cc !== 1) {
      throw new DataError(
        `cgan is sized for 28×28 gray images; ${data.name} has ${hh}×${ww}×${cc} (use generator cvae, or your own files)`,
      );
    }
    const { epochs, batch_size: bs, latent, class_weight: lambda } = this.args;
    const rng = Rng.fromSeed(this.args.seed).derive('cgan');
    this.shape = data.imageShape;
    this.numClasses = data.numClasses;
    const dim = hh * ww;
    const pixels = await data.readImages(Int32Array.from({ length: data.length }, (_, i) => i));
    for (let i = 0; i < data.labels.length; i++) {
      const y = data.labels[i]!;
      if (y < 0 || y >= data.numClasses)
        throw new DataError(`${data.name}: generator training needs ID labels in [0, ${data.numClasses}), found ${y} at ${i}`);
    }
    this.dispose();
    this.init(data.numClasses, rng.derive('init'));
    const g = this.g!;
    const d = this.d!;
    const gVars = Object.values(g);
    const dVars = Object.values(d);
    const optG = tf.train.adam(this.args.lr, this.args.beta1, 0.999);
    const optD = tf.train.adam(this.args.lr, this.args.beta1, 0.999);
    const steps = Math.ceil(data.length / bs);
    const noise = rng.derive('noise');
    try {
      for (let epoch = 0; epoch < epochs; epoch++) {
        const order = rng.derive(`epoch-${epoch}`).permutation(data.length);
        for (let step = 0; step < steps; step++) {
          const idx = order.subarray(step * bs, Math.min(data.length, (step + 1) * bs));
          const n = idx.length;
          if (n < 2) continue; // batch norm needs two samples; at most one image of an epoch is skipped
          const xb = new Float32Array(n * dim);
          const yb = new Int32Array(n);
          for (let i = 0; i < n; i++) {
            const src = idx[i]! * dim;
            for (let j = 0; j < dim; j++) xb[i * dim + j] = pixels[src + j]! / 127.5 - 1;
            yb[i] = data.labels[idx[i]!]!;
          }
          const zb = new Float32Array(n * latent);
          for (let i = 0; i < zb.length; i++) zb[i] = noise.normal();
          const [dLoss, gLoss] = tf.tidy(() => {
            const x = tf.tensor4d(xb, [n, 28, 28, 1]);
            const onehot = tf.oneHot(tf.tensor1d(yb, 'int32'), this.numClasses).toFloat() as tf.Tensor2D;
            const z = tf.tensor2d(zb, [n, latent]);
            const lossD = optD.minimize(
              () => {
                const fake = this.generate(g, z, onehot);
                const real = this.discriminate(d, x);
                const gen = this.discriminate(d, fake);
                const adversarial = tf.add(bceWithLogits(real.src, 1), bceWithLogits(gen.src, 0));
                const classes = tf.add(crossEntropy(real.cls, onehot), crossEntropy(gen.cls, onehot));
                return tf.add(adversarial, tf.mul(classes, lambda)) as tf.Scalar;
              },
              true,
              dVars,
            )!;
            const lossG = optG.minimize(
              () => {
                const gen = this.discriminate(d, this.generate(g, z, onehot));
                return tf.add(bceWithLogits(gen.src, 1), tf.mul(crossEntropy(gen.cls, onehot), lambda)) as tf.Scalar;
              },
              true,
              gVars,
            )!;
            return [lossD, lossG];
          });
          const [dv, gv] = [(await dLoss.data())[0]!, (await gLoss.data())[0]!];
          tf.dispose([dLoss, gLoss]);
          if (!Number.isFinite(dv) || !Number.isFinite(gv))
            throw new DataError(`cgan: loss is D ${dv} / G ${gv} at epoch ${epoch + 1}, step ${step + 1}; lower generator.args.lr`);
          options.onProgress?.({ epoch, epochs, step, steps, loss: gv });
        }
        options.logger.debug(`cgan: epoch ${epoch + 1}/${epochs} done`);
      }
    } finally {
      optG.dispose();
      optD.dispose();
    }
  }

  async sample(labels: Int32Array, rng: Rng): Promise<Uint8Array> {
    const g = this.g;
    const shape = this.shape;
    if (!g || !shape) throw new Error('cgan: sample() before fit()');
    const { latent } = this.args;
    const dim = shape[0] * shape[1] * shape[2];
    const out = new Uint8Array(labels.length * dim);
    // fixed chunks, so G's batch statistics (and the samples) do not depend on how many are asked for
    const chunk = 500;
    for (let start = 0; start < labels.length; start += chunk) {
      const n = Math.min(chunk, labels.length - start);
      const zb = new Float32Array(chunk * latent);
      for (let i = 0; i < zb.length; i++) zb[i] = rng.normal();
      const ys = new Int32Array(chunk);
      for (let i = 0; i < chunk; i++) ys[i] = i < n ? labels[start + i]! : i % this.numClasses;
      const images = tf.tidy(() => {
        const onehot = tf.oneHot(tf.tensor1d(ys, 'int32'), this.numClasses).toFloat() as tf.Tensor2D;
        return tf.round(tf.mul(tf.add(this.generate(g, tf.tensor2d(zb, [chunk, latent]), onehot), 1), 127.5));
      });
      const values = await images.data();
      images.dispose();
      for (let i = 0; i < n * dim; i++) out[start * dim + i] = values[i]!;
    }
    return out;
  }

  dispose(): void {
    for (const v of [...Object.values(this.g ?? {}), ...Object.values(this.d ?? {})]) v.dispose();
    this.g = undefined;
    this.d = undefined;
  }
}

export const cganGenerator = defineComponent({
  kind: 'generator',
  name: 'cgan',
  description:
    'Class-conditional DCGAN with an auxiliary classifier (AC-GAN) for 28×28 gray images, sized for CPU training (experimental: its default settings collapse to ~one sample per class, docs/decisions.md)',
  args: cganArgs,
  create: (args): SyntheticGenerator => new ConditionalGan(args),
});
