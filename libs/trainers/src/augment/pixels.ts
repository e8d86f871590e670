import { resolveBenchmarkValueSync } from '@oodkit/data';
import type { BuildContext } from '@oodkit/core';
import { z } from 'zod';
import type { Image8 } from './pil-ops.js';

/** Args of trainers that map normalised batches back to pixels (the PIL-style augmentations). */
export const normalizationArgs = {
  mean: z.array(z.number()).min(1).optional().describe("the batch's normalisation mean; default: the benchmark's"),
  std: z.array(z.number().positive()).min(1).optional().describe("the batch's normalisation std; default: the benchmark's"),
};

export interface Normalization {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** The normalisation of the run's benchmark (inline, a file or a shipped name); OpenOOD's 0.5 fallback otherwise. */
export function benchmarkNormalization(config: BuildContext['config']): Normalization {
  try {
    const b = resolveBenchmarkValueSync(config.benchmark) as { normalization?: { mean?: number[]; std?: number[] } } | undefined;
    if (b?.normalization?.mean && b.normalization.std) return { mean: b.normalization.mean, std: b.normalization.std };
  } catch {
    // no benchmark in this config (unit use): fall back
  }
  return { mean: [0.5], std: [0.5] };
}

/** The trainer's args if both are given, else the benchmark's. */
export function normalizationOf(args: { mean?: number[]; std?: number[] }, config: BuildContext['config']): Normalization {
  return args.mean && args.std ? { mean: args.mean, std: args.std } : benchmarkNormalization(config);
}

const channel = (values: readonly number[], ch: number) => values[values.length === 1 ? 0 : ch]!;

/** Image `i` of a normalised NHWC batch as uint8 pixels: round((x·std + mean)·255), clamped (ToTensor's inverse). */
export function imageOf(values: Float32Array, i: number, shape: readonly [number, number, number], norm: Normalization): Image8 {
  const [h, w, c] = shape;
  const size = h * w * c;
  const data = new Uint8Array(size);
  for (let p = 0; p < size; p++) {
    const v = Math.round((values[i * size + p]! * channel(norm.std, p % c) + channel(norm.mean, p % c)) * 255);
    data[p] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { data, h, w, c };
}

/** Writes [0, 1] floats of one image, normalised, into row `i` of a batch buffer (ToTensor's /255 done by the caller). */
export function writeNormalized(out: Float32Array, i: number, unit: ArrayLike<number>, c: number, norm: Normalization): void {
  const size = unit.length;
  for (let p = 0; p < size; p++) out[i * size + p] = (unit[p]! - channel(norm.mean, p % c)) / channel(norm.std, p % c);
}

/** ToTensor of uint8 pixels: v / 255. */
export function toUnit(img: Image8): Float32Array {
  return Float32Array.from(img.data, (v) => v / 255);
}
