import { z } from 'zod';
import { ConfigError, zodIssuesToConfigIssues } from '@oodkit/core';

/** The user's own synthetic set, e.g. the SIO release's `.npy` pair. */
export const sioFilesSchema = z.strictObject({
  images: z.string().min(1).describe('uint8 (N, H, W, C) .npy file'),
  labels: z.string().min(1).describe('integer (N,) .npy file'),
});

/** Synthetic data oodkit makes itself with a registered generator (trained on the ID train set, cached). */
export const sioGeneratorSchema = z.strictObject({
  generator: z.string().min(1).describe('name of a registered generator'),
  count: z.number().int().positive().describe('number of synthetic images to generate'),
  args: z.record(z.string(), z.unknown()).optional().describe("the generator's own arguments"),
});

/**
 * The `sio:` block of a training config. It wraps any trainer: only the training stream changes.
 * Defaults are the paper's CIFAR settings.
 */
export const sioConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  realRatio: z.number().min(0).lte(1).default(0.8).describe('fraction of each batch that is real (0: all-synthetic batches)'),
  extraPercent: z.number().gt(0).lte(100).default(100).describe('percentage of the synthetic pool kept (fixed seed-0 subset)'),
  mode: z
    .enum(['faithful', 'full-real-coverage'])
    .default('faithful')
    .describe('faithful: ceil(R/bs) steps; full-real-coverage: ceil(R/realBs)'),
  resize: z.boolean().default(false).describe('convert synthetic images whose size or channels differ from the real ones'),
  synthetic: z.union([sioFilesSchema, sioGeneratorSchema]),
});

export type SioConfig = z.infer<typeof sioConfigSchema>;
export type SioFiles = z.infer<typeof sioFilesSchema>;
export type SioGeneratorSource = z.infer<typeof sioGeneratorSchema>;

export function isGeneratorSource(source: SioConfig['synthetic']): source is SioGeneratorSource {
  return 'generator' in source;
}

/**
 * Validate a raw `sio` section. Absent or `enabled: false` → undefined (plain training).
 * Problems are reported as ConfigIssues under `path`.
 */
export function parseSioConfig(raw: unknown, path = 'sio'): SioConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'object' && (raw as { enabled?: unknown }).enabled === false) return undefined;
  const parsed = sioConfigSchema.safeParse(raw);
  if (!parsed.success) {
    // A union hides which branch the user meant; validate against the branch their keys point to.
    const synthetic = (raw as { synthetic?: unknown }).synthetic;
    if (synthetic && typeof synthetic === 'object') {
      const branch = 'generator' in synthetic ? sioGeneratorSchema : sioFilesSchema;
      const inner = branch.safeParse(synthetic);
      if (!inner.success) throw new ConfigError(zodIssuesToConfigIssues(inner.error, `${path}.synthetic`, branch));
    }
    throw new ConfigError(zodIssuesToConfigIssues(parsed.error, path, sioConfigSchema));
  }
  return parsed.data;
}
