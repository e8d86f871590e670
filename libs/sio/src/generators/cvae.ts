import { z } from 'zod';
import { DataError, Rng, defineComponent, type ImageDataset, type Logger } from '@oodkit/core';
import { tf } from '@oodkit/compute';
import { DataLoader, MemoryDataset, batchSlices } from '@oodkit/data';
import type { GeneratorProgress, SyntheticGenerator } from './types.js';

export const cvaeArgs = z.strictObject({
  hidden: z.number().int().positive().default(256).describe('width of the encoder and decoder hidden layers'),
  latent: z.number().int().positive().default(16).describe('dimension of the latent code z'),
  epochs: z.number().int().positive().default(6),
  batch_size: z.number().int().positive().default(128),
  lr: z.number().positive().default(1e-3).describe('Adam learning rate'),
  temperature: z.number().positive().default(0.8).describe('std of the prior when sampling (below 1 trades diversity for typicality)'),
  sharpen: z
    .number()
    .positive()
    .default(3)
    .describe('output = sigmoid(sharpen · decoder logits); 1 = the Bernoulli mean (blurry, low-contrast strokes)'),
  stretch: z.boolean().default(true).describe('scale each sample so its brightest pixel is 255, as MNIST strokes saturate'),
  seed: z.number().int().default(0).describe('fixed by default, so every run of a benchmark shares one synthetic set (as SIO does)'),
  conditioning: z
    .enum(['per_class', 'concat'])
    .default('per_class')
    .describe('per_class: one VAE per class (class fidelity by construction); concat: one VAE with the one-hot label concatenated'),
});
export type CvaeArgs = z.infer<typeof cvaeArgs>;

type Params = Record<'enc1W' | 'enc1b' | 'muW' | 'mub' | 'lvW' | 'lvb' | 'dec1W' | 'dec1b' | 'dec2W' | 'dec2b', tf.Variable>;

/**
 * Class-conditional VAE (Kingma et al. 2014, "M2"-style conditioning by concatenating the one-hot
 * label to encoder input and decoder code), Bernoulli pixel likelihood. Dense layers only: on this
 * project's CPU machines it trains MNIST in minutes, where a conditional DCGAN of useful width needs
 * ~50× LeNet's FLOPs per image (see docs/decisions.md for the measured comparison).
 */
/** A trainable variable from `initial`, disposing the initial tensor (tf.variable keeps it alive otherwise). */
function ownedVariable(initial: tf.Tensor): tf.Variable {
  const v = tf.variable(initial, true);
  initial.dispose();
  return v;
}

export class ConditionalVae implements SyntheticGenerator {
  readonly name = 'cvae';
  readonly settings: Readonly<Record<string, unknown>>;
  private params: Params | undefined;
  private shape: readonly [number, number, number] | undefined;
  private numClasses = 0;

  constructor(private readonly args: CvaeArgs) {
    this.settings = { ...args };
  }

  private init(inputDim: number, numClasses: number, rng: Rng): Params {
    const { hidden, latent } = this.args;
    // Glorot-uniform weights from the seeded stream, zero biases (Keras' Dense default).
    const dense = (fanIn: number, fanOut: number, name: string) => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const stream = rng.derive(name);
      const values = new Float32Array(fanIn * fanOut);
      for (let i = 0; i < values.length; i++) values[i] = (stream.uniform() * 2 - 1) * limit;
      return ownedVariable(tf.tensor2d(values, [fanIn, fanOut]));
    };
    const bias = (n: number) => ownedVariable(tf.zeros([n]));
    return {
      enc1W: dense(inputDim + numClasses, hidden, 'enc1'),
      enc1b: bias(hidden),
      muW: dense(hidden, latent, 'mu'),
      mub: bias(latent),
      lvW: dense(hidden, latent, 'logvar'),
      lvb: bias(latent),
      dec1W: dense(latent + numClasses, hidden, 'dec1'),
      dec1b: bias(hidden),
      dec2W: dense(hidden, inputDim, 'dec2'),
      dec2b: bias(inputDim),
    };
  }

  private decodeLogits(p: Params, z: tf.Tensor2D, onehot: tf.Tensor2D): tf.Tensor2D {
    const h = tf.relu(tf.add(tf.matMul(tf.concat([z, onehot], 1), p.dec1W), p.dec1b));
    return tf.add(tf.matMul(h, p.dec2W), p.dec2b) as tf.Tensor2D;
  }

  /** Negative ELBO per sample, averaged over the batch: Bernoulli NLL summed over pixels + KL(q(z|x,y) ‖ N(0, I)). */
  static negativeElbo(x: tf.Tensor2D, logits: tf.Tensor2D, mu: tf.Tensor2D, logvar: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => {
      // BCE with logits, stable form: max(l, 0) − l·x + log(1 + e^{−|l|})
      const bce = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, x)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
      const nll = tf.sum(bce, 1);
      const kl = tf.mul(-0.5, tf.sum(tf.sub(tf.sub(tf.add(1, logvar), tf.square(mu)), tf.exp(logvar)), 1));
      return tf.mean(tf.add(nll, kl)) as tf.Scalar;
    });
  }

  async fit(data: ImageDataset, options: { logger: Logger; onProgress?: (p: GeneratorProgress) => void }): Promise<void> {
    const { epochs, batch_size: bs, latent } = this.args;
    const rng = Rng.fromSeed(this.args.seed).derive('cvae');
    this.shape = data.imageShape;
    this.numClasses = data.numClasses;
    const dim = data.imageShape[0] * data.imageShape[1] * data.imageShape[2];
    const labels = data.labels;
    for (let i = 0; i < labels.length; i++) {
      if (labels[i]! < 0 || labels[i]! >= data.numClasses)
        throw new DataError(`${data.name}: generator training needs ID labels in [0, ${data.numClasses}), found ${labels[i]} at ${i}`);
    }
    this.dispose();
    const p = this.init(dim, data.numClasses, rng.derive('init'));
    this.params = p;
    const optimizer = tf.train.adam(this.args.lr);
    const steps = Math.ceil(data.length / bs);
    const noise = rng.derive('noise');
    // Pixels scaled to [0, 1] (no chain), one fresh permutation per epoch.
    const loader = new DataLoader(data, {
      batchSize: bs,
      indexSource: { epoch: (e) => batchSlices(rng.derive(`epoch-${e}`).permutation(data.length), bs) },
    });
    try {
      for (let epoch = 0; epoch < epochs; epoch++) {
        let step = 0;
        for await (const host of loader.hostEpoch(epoch)) {
          const { n, data: xb, labels: yb } = host;
          const eps = new Float32Array(n * latent);
          for (let i = 0; i < eps.length; i++) eps[i] = noise.normal();
          const loss = tf.tidy(() => {
            const x = tf.tensor2d(xb, [n, dim]);
            const onehot = tf.oneHot(tf.tensor1d(yb, 'int32'), this.numClasses).toFloat() as tf.Tensor2D;
            const e = tf.tensor2d(eps, [n, latent]);
            return optimizer.minimize(() => {
              const h = tf.relu(tf.add(tf.matMul(tf.concat([x, onehot], 1), p.enc1W), p.enc1b));
              const mu = tf.add(tf.matMul(h, p.muW), p.mub) as tf.Tensor2D;
              const logvar = tf.add(tf.matMul(h, p.lvW), p.lvb) as tf.Tensor2D;
              const z = tf.add(mu, tf.mul(tf.exp(tf.mul(0.5, logvar)), e)) as tf.Tensor2D;
              return ConditionalVae.negativeElbo(x, this.decodeLogits(p, z, onehot), mu, logvar);
            }, true)!;
          });
          const value = (await loss.data())[0]!;
          loss.dispose();
          if (!Number.isFinite(value))
            throw new DataError(`cvae: loss is ${value} at epoch ${epoch + 1}, step ${step + 1}; lower generator.args.lr`);
          options.onProgress?.({ epoch, epochs, step, steps, loss: value });
          step++;
        }
        options.logger.debug(`cvae: epoch ${epoch + 1}/${epochs} done`);
      }
    } finally {
      optimizer.dispose();
    }
  }

  async sample(labels: Int32Array, rng: Rng): Promise<Uint8Array> {
    const p = this.params;
    const shape = this.shape;
    if (!p || !shape) throw new Error('cvae: sample() before fit()');
    const { latent, temperature, sharpen, stretch } = this.args;
    const dim = shape[0] * shape[1] * shape[2];
    const out = new Uint8Array(labels.length * dim);
    const chunk = 512;
    for (let start = 0; start < labels.length; start += chunk) {
      const n = Math.min(chunk, labels.length - start);
      const eps = new Float32Array(n * latent);
      for (let i = 0; i < eps.length; i++) eps[i] = rng.normal(0, temperature);
      const probs = tf.tidy(() => {
        const onehot = tf.oneHot(tf.tensor1d(labels.subarray(start, start + n), 'int32'), this.numClasses).toFloat() as tf.Tensor2D;
        // The Bernoulli mean is a blurred average stroke: an independent LeNet read only ~55 % of such
        // samples as their class, ~80 % after sharpening the logits and stretching contrast (BENCHMARKS.md).
        const probs = tf.sigmoid(tf.mul(this.decodeLogits(p, tf.tensor2d(eps, [n, latent]), onehot), sharpen));
        const scaled = stretch ? tf.div(probs, tf.maximum(tf.max(probs, 1, true), 1e-6)) : probs;
        return scaled.mul(255).round();
      });
      const values = await probs.data();
      probs.dispose();
      for (let i = 0; i < values.length; i++) out[start * dim + i] = values[i]!;
    }
    return out;
  }

  dispose(): void {
    if (this.params) for (const v of Object.values(this.params)) v.dispose();
    this.params = undefined;
  }
}

/**
 * One VAE per class, each fitted on that class's images only, so a sample asked for class c can only
 * look like class c. A single concat-conditioned VAE let its 16-d code carry the class and partly
 * ignore the label (an independent LeNet recognised only ~30 % of its samples, BENCHMARKS.md); the
 * per-class mixture costs the same epochs over the same images.
 */
export class PerClassVae implements SyntheticGenerator {
  readonly name = 'cvae';
  readonly settings: Readonly<Record<string, unknown>>;
  private models: ConditionalVae[] = [];

  constructor(private readonly args: CvaeArgs) {
    this.settings = { ...args };
  }

  async fit(data: ImageDataset, options: { logger: Logger; onProgress?: (p: GeneratorProgress) => void }): Promise<void> {
    this.dispose();
    const size = data.imageShape[0] * data.imageShape[1] * data.imageShape[2];
    const all = Int32Array.from({ length: data.length }, (_, i) => i);
    const pixels = await data.readImages(all);
    const totalSteps = (c: number[]) => c.reduce((a, n) => a + Math.ceil(n / this.args.batch_size), 0);
    const counts = new Array<number>(data.numClasses).fill(0);
    for (const label of data.labels) {
      if (label < 0 || label >= data.numClasses)
        throw new DataError(`${data.name}: generator training needs ID labels in [0, ${data.numClasses}), found ${label}`);
      counts[label]!++;
    }
    const steps = totalSteps(counts);
    let done = 0;
    for (let c = 0; c < data.numClasses; c++) {
      if (counts[c] === 0) throw new DataError(`${data.name}: class ${c} has no training images; cannot fit its generator`);
      const own = new Uint8Array(counts[c]! * size);
      let k = 0;
      for (let i = 0; i < data.length; i++) if (data.labels[i] === c) own.set(pixels.subarray(i * size, (i + 1) * size), size * k++);
      // Every sample of this model has label c; the one-hot input is then constant, i.e. unconditional.
      const subset = new MemoryDataset(`${data.name}-class${c}`, own, data.imageShape, data.numClasses, new Int32Array(counts[c]!).fill(c));
      const model = new ConditionalVae({ ...this.args, seed: this.args.seed + 1000 * (c + 1) });
      const base = done;
      await model.fit(subset, {
        logger: options.logger,
        onProgress: (p) =>
          options.onProgress?.({
            epoch: p.epoch,
            epochs: p.epochs,
            step: base + p.epoch * p.steps + p.step,
            steps: steps * this.args.epochs,
            loss: p.loss,
          }),
      });
      done += Math.ceil(counts[c]! / this.args.batch_size) * this.args.epochs;
      this.models.push(model);
    }
  }

  async sample(labels: Int32Array, rng: Rng): Promise<Uint8Array> {
    if (this.models.length === 0) throw new Error('cvae: sample() before fit()');
    let size = 0;
    const parts: { c: number; positions: number[]; pixels: Uint8Array }[] = [];
    for (let c = 0; c < this.models.length; c++) {
      const positions: number[] = [];
      for (let i = 0; i < labels.length; i++) if (labels[i] === c) positions.push(i);
      if (positions.length === 0) continue;
      const pixels = await this.models[c]!.sample(new Int32Array(positions.length).fill(c), rng.derive(`class-${c}`));
      size = pixels.length / positions.length;
      parts.push({ c, positions, pixels });
    }
    const out = new Uint8Array(labels.length * size);
    for (const part of parts) part.positions.forEach((pos, k) => out.set(part.pixels.subarray(k * size, (k + 1) * size), pos * size));
    return out;
  }

  dispose(): void {
    for (const m of this.models) m.dispose();
    this.models = [];
  }
}

export const cvaeGenerator = defineComponent({
  kind: 'generator',
  name: 'cvae',
  description:
    'Class-conditional VAE (dense, Bernoulli likelihood; one VAE per class by default): fast, stable synthetic ID images for MNIST-scale data',
  args: cvaeArgs,
  create: (args): SyntheticGenerator => (args.conditioning === 'per_class' ? new PerClassVae(args) : new ConditionalVae(args)),
});
