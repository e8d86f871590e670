import { tf } from '@oodkit/compute';

/**
 * Initialisers equal in distribution to PyTorch's. Seeds come from the network's Rng stream, so the
 * same run seed gives the same weights on every backend (tfjs draws these on the host).
 */

/** PyTorch's default for Conv2d/Linear weights and biases: kaiming_uniform(a=√5) = U(±1/√fan_in). */
export function torchDefaultUniform(shape: number[], fanIn: number, seed: number): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -bound, bound, 'float32', seed);
}

/** kaiming_normal(mode='fan_out', relu): N(0, 2/(k·k·out)), as torchvision and OpenOOD's 224 ResNet use. */
export function kaimingNormalFanOut(shape: number[], fanOut: number, seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, Math.sqrt(2 / fanOut), 'float32', seed);
}
