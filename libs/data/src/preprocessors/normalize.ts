import { z } from 'zod';
import { ConfigError, defineComponent } from '@oodkit/core';
import type { HostImages, Preprocessor } from './types.js';

export const normalizeArgs = z.strictObject({
  /** Per-channel mean of x/255; omitted = the benchmark's `normalization.mean`. */
  mean: z.array(z.number()).min(1).optional(),
  std: z.array(z.number().positive()).min(1).optional(),
});

/**
 * (x/255 − mean) / std per channel → float32, in float32 arithmetic step by step as torchvision's
 * ToTensor (`div(255)`) and Normalize (`sub_(mean).div_(std)`, float32 mean/std) compute it, so results
 * equal PyTorch's bit for bit (each step is done in double and rounded once, which equals the float32
 * operation for +, −, ×, ÷).
 */
export function normalize(mean: readonly number[], std: readonly number[]): Preprocessor {
  return {
    name: 'normalize',
    random: false,
    outputShape: (s) => [s[0], s[1], s[2]],
    apply(images: HostImages): HostImages {
      const { c, data } = images;
      const m = channelValues(mean, c, 'mean').map(Math.fround);
      const s = channelValues(std, c, 'std').map(Math.fround);
      const bytes = images.data instanceof Uint8Array;
      const out = new Float32Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const ch = i % c;
        const x = bytes ? Math.fround(data[i] / 255) : data[i];
        out[i] = Math.fround(x - m[ch]) / s[ch];
      }
      return { ...images, data: out };
    },
  };
}

function channelValues(values: readonly number[], c: number, what: string): readonly number[] {
  if (values.length === c) return values;
  if (values.length === 1) return new Array<number>(c).fill(values[0]);
  throw new ConfigError([{ path: `preprocessor.normalize.${what}`, message: `has ${values.length} values for images with ${c} channels` }]);
}

export const normalizePreprocessor = defineComponent({
  kind: 'preprocessor',
  name: 'normalize',
  description: 'Per-channel (x/255 − mean)/std → float32 (defaults to the benchmark normalisation)',
  args: normalizeArgs,
  create: (args, ctx) => {
    const fromBenchmark = (ctx.config.benchmark as { normalization?: { mean?: number[]; std?: number[] } } | undefined)?.normalization;
    const mean = args.mean ?? fromBenchmark?.mean;
    const std = args.std ?? fromBenchmark?.std;
    if (!mean || !std) {
      throw new ConfigError([
        { path: 'preprocessor.normalize.args', message: 'mean and std are required (no benchmark normalization to default to)' },
      ]);
    }
    if (mean.length !== std.length)
      throw new ConfigError([{ path: 'preprocessor.normalize.args', message: `mean has ${mean.length} values but std has ${std.length}` }]);
    return normalize(mean, std);
  },
});
