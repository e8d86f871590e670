import { tf } from '@oodkit/compute';
import { Rng, createOodkitContainer, registryOf, silentLogger, type Batch, type Classifier, type Trainer } from '@oodkit/core';
import { trainersModule } from '../src/index.js';

export const registry = registryOf(createOodkitContainer([trainersModule]));

export async function buildTrainer(name: string, args: Record<string, unknown> = {}, seed = 0): Promise<Trainer> {
  return registry.build<Trainer>('trainer', { name, args }, { logger: silentLogger, rng: trainerRng(seed), config: {} });
}

/** The stream the trainer receives; tests replicate its draws from `trainerRng(seed).derive('draws')`. */
export function trainerRng(seed: number): Rng {
  return Rng.fromSeed(seed).derive('trainer');
}

/**
 * A linear classifier on flattened pixels: z = x (identity features), logits = z·Wᵀ + b. Small enough
 * to compute every loss and gradient by hand in plain JS.
 */
export class LinearClassifier implements Classifier {
  readonly name = 'linear';
  readonly featureDim: number;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    readonly inputShape: readonly [number, number, number],
    readonly numClasses: number,
    w: number[][],
    b: number[],
  ) {
    this.featureDim = inputShape[0] * inputShape[1] * inputShape[2];
    this.weight = tf.variable(tf.tensor2d(w, [numClasses, this.featureDim]));
    this.bias = tf.variable(tf.tensor1d(b));
  }

  private z(x: tf.Tensor4D): tf.Tensor2D {
    return tf.reshape(x, [x.shape[0], this.featureDim]);
  }
  forward(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.head(this.z(x)));
  }
  forwardFeatures(x: tf.Tensor4D): { logits: tf.Tensor2D; features: tf.Tensor2D } {
    return tf.tidy(() => ({ logits: this.head(this.z(x)), features: this.z(x) }));
  }
  forwardBlocks(x: tf.Tensor4D): { logits: tf.Tensor2D; features: tf.Tensor2D; blocks: tf.Tensor4D[] } {
    return tf.tidy(() => ({ logits: this.head(this.z(x)), features: this.z(x), blocks: [] }));
  }
  forwardThreshold(x: tf.Tensor4D, t: number): tf.Tensor2D {
    return tf.tidy(() => this.head(tf.minimum(this.z(x), t)));
  }
  head(z: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(z, this.weight as tf.Tensor2D, false, true), this.bias));
  }
  finalLayer(): { weight: tf.Tensor2D; bias: tf.Tensor1D } {
    return { weight: tf.clone(this.weight) as tf.Tensor2D, bias: tf.clone(this.bias) as tf.Tensor1D };
  }
  trainableVariables(): tf.Variable[] {
    return [this.weight, this.bias];
  }
  namedVariables(): ReadonlyMap<string, tf.Variable> {
    return new Map([
      ['fc.weight', this.weight],
      ['fc.bias', this.bias],
    ]);
  }
  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
  get w(): number[][] {
    return this.weight.arraySync() as number[][];
  }
  get b(): number[] {
    return this.bias.arraySync() as number[];
  }
}

/** images: N flattened HWC images. */
export function makeBatch(images: number[][], labels: number[], shape: readonly [number, number, number]): Batch {
  return {
    x: tf.tensor4d(images.flat(), [images.length, ...shape]),
    y: tf.tensor1d(labels, 'int32'),
    indices: Int32Array.from(labels.map((_, i) => i)),
  };
}

export function disposeBatch(batch: Batch): void {
  tf.dispose([batch.x, batch.y]);
}

// ---- plain-JS reference math (no tfjs) ----
export const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
export const logitsOf = (w: number[][], b: number[], x: number[]) => w.map((row, c) => dot(row, x) + b[c]);
export function logSoftmax(l: number[]): number[] {
  const m = Math.max(...l);
  const lse = m + Math.log(l.reduce((s, v) => s + Math.exp(v - m), 0));
  return l.map((v) => v - lse);
}
export const softmax = (l: number[]) => logSoftmax(l).map(Math.exp);
export const ce = (l: number[], y: number) => -logSoftmax(l)[y];
export const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
export const softCe = (l: number[], q: number[]) => -dot(q, logSoftmax(l));

/** A tiny problem: 6 images of 4×4×1 in 3 classes, 6 outliers; values from closed forms. */
export const SHAPE: [number, number, number] = [4, 4, 1];
export const D = 16;
export const C = 3;
export const X = Array.from({ length: 6 }, (_, i) =>
  Array.from({ length: D }, (_, j) => Math.round(100 * Math.sin(1.3 * i + 0.7 * j + 0.5 * (i % 3) * j)) / 100),
);
export const Y = [0, 1, 2, 0, 1, 2];
export const OUTLIERS = Array.from({ length: 6 }, (_, i) =>
  Array.from({ length: D }, (_, j) => Math.round(100 * Math.cos(2.1 * i - 0.4 * j)) / 100),
);
export const W0 = Array.from({ length: C }, (_, c) =>
  Array.from({ length: D }, (_, j) => Math.round(1000 * 0.1 * Math.sin(5 * c + j)) / 1000),
);
export const B0 = [0.01, -0.02, 0.03];
