import { Rng } from '@oodkit/core';
import { tf } from '../src/index.js';

/** Deterministic values from a named stream, so failures reproduce. */
export function randomArray(size: number, stream: string, seed = 7): Float32Array {
  const rng = Rng.fromSeed(seed).derive(stream);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.normal();
  return out;
}

/** max |a − b| / max |b|: the error relative to the reference's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Runs `fn` on a backend with fresh copies of the inputs; returns plain data + shapes. */
export async function onBackend(
  backend: 'wasm' | 'cpu',
  inputs: { values: Float32Array; shape: number[] }[],
  fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
): Promise<{ data: Float32Array; shape: number[] }[]> {
  await tf.setBackend(backend);
  const xs = inputs.map((i) => tf.tensor(i.values, i.shape));
  const out = tf.tidy(() => {
    const r = fn(...xs);
    return Array.isArray(r) ? r : [r];
  });
  const result = out.map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
  tf.dispose([...out, ...xs]);
  return result;
}
