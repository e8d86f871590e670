import { readSafetensors, type CheckpointTensor } from '@oodkit/core';

/**
 * The TypeScript half of fixtures/torch/make_fixtures.py: the same generated weights and input, bit
 * for bit (integer hashing, then the same double-precision arithmetic and one rounding to float32).
 */
export const fixtureDir = new URL('./fixtures/torch/', import.meta.url).pathname;

/** Uniform in [-1, 1): murmur3's 32-bit finaliser of (i·0x9E3779B1 + seed·0x85EBCA77 + 0x165667B1). */
export function hashUniform(count: number, seed: number): Float64Array {
  const out = new Float64Array(count);
  const s = Math.imul(seed, 0x85ebca77);
  for (let i = 0; i < count; i++) {
    let x = (Math.imul(i, 0x9e3779b1) + s + 0x165667b1) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x85ebca6b) >>> 0;
    x ^= x >>> 13;
    x = Math.imul(x, 0xc2b2ae35) >>> 0;
    x ^= x >>> 16;
    out[i] = ((x >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

function float32(values: Float64Array, scale: (u: number) => number): Float32Array {
  return Float32Array.from(values, scale);
}

/** The BatchNorm ending each residual branch: bn3 in bottleneck nets, bn2 in basic-block nets. */
export function residualBn(keys: readonly string[]): string {
  return keys.some((k) => k.endsWith('.bn3.weight')) ? 'bn3' : 'bn2';
}

/** The value make_fixtures.py gives the learnable state_dict entry number `index` (see its comment). */
export function generated(index: number, name: string, shape: readonly number[], lastBn: string): CheckpointTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = hashUniform(n, index + 1);
  let data: Float32Array;
  if (name.endsWith('.weight') && shape.length >= 2) {
    const bound = Math.sqrt(6 / shape.slice(1).reduce((a, b) => a * b, 1));
    data = float32(u, (v) => v * bound);
  } else if (name.endsWith('.weight')) {
    const scale = name.startsWith('layer') && name.endsWith(`.${lastBn}.weight`) ? 0.25 : 1;
    data = float32(u, (v) => (1 + 0.25 * v) * scale);
  } else data = float32(u, (v) => 0.1 * v);
  return { dtype: 'float32', shape: [...shape], data };
}

/** The generated input, NCHW as in PyTorch. */
export function generatedInput(shape: readonly number[]): Float32Array {
  return float32(
    hashUniform(
      shape.reduce((a, b) => a * b, 1),
      999_983,
    ),
    (v) => 2 * v,
  );
}

/** NCHW → NHWC. */
export function toNhwc(data: Float32Array, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[((b * h + y) * w + x) * c + ch] = data[((b * c + ch) * h + y) * w + x];
  return out;
}

export interface ReferenceCase {
  /** The state_dict keys in PyTorch's order. */
  readonly keys: readonly string[];
  readonly inputShape: readonly number[];
  /** The whole state_dict in PyTorch's layout: generated weights + the fixture's BN statistics. */
  readonly stateDict: Map<string, CheckpointTensor>;
  readonly logits: CheckpointTensor;
  readonly features: CheckpointTensor;
}

export async function referenceCase(name: string): Promise<ReferenceCase> {
  const { tensors, metadata } = await readSafetensors(`${fixtureDir}${name}.safetensors`);
  const keys = JSON.parse(metadata.keys) as string[];
  const shapes = JSON.parse(metadata.shapes) as number[][];
  const stateDict = new Map<string, CheckpointTensor>();
  const lastBn = residualBn(keys);
  keys.forEach((key, index) => stateDict.set(key, tensors.get(key) ?? generated(index, key, shapes[index], lastBn)));
  return {
    keys,
    inputShape: JSON.parse(metadata.input_shape) as number[],
    stateDict,
    logits: tensors.get('__out__.logits')!,
    features: tensors.get('__out__.features')!,
  };
}
