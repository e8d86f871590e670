import { Rng, createOodkitContainer, registryOf, silentLogger, type Classifier } from '@oodkit/core';
import { tf } from '@oodkit/compute';
import { networksModule } from '../src/index.js';

export const registry = registryOf(createOodkitContainer([networksModule]));

export async function build(name: string, args: Record<string, unknown> = {}, seed = 0): Promise<Classifier> {
  return registry.build<Classifier>(
    'network',
    { name, args },
    { logger: silentLogger, rng: Rng.fromSeed(seed).derive('network'), config: {} },
  );
}

/** Deterministic pseudo-random input (independent of the network's own seeds). */
export function input(shape: [number, number, number, number], seed = 7): tf.Tensor4D {
  return tf.randomUniform(shape, -1, 1, 'float32', seed) as tf.Tensor4D;
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}
