import { z } from 'zod';
import { ConfigError, componentObjectSchema, zodIssuesToConfigIssues, type KeyRename } from '@oodkit/core';

/** The user's own synthetic set, e.g. the SIO release's `.npy` pair. */
export const sioFilesSchema = z.strictObject({
  images: z.string().min(1).describe('uint8 (N, H, W, C) .npy file'),
  labels: z.string().min(1).describe('integer (N,) .npy file'),
});

/**
 * Synthetic data oodkit makes itself with a registered generator (trained on the ID train set, cached):
 * `{name, args}` like every other component, plus how many images to make.
 */
export const sioGeneratorSchema = componentObjectSchema('generator', {
  count: z.number().int().positive().describe('number of synthetic images to generate'),
});

/**
 * The `sio:` block of a training config. It wraps any trainer: only the training stream changes.
 * Defaults are the paper's CIFAR settings.
 */
export const sioConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  real_ratio: z.number().min(0).lte(1).default(0.8).describe('fraction of each batch that is real (0: all-synthetic batches)'),
  extra_percent: z.number().gt(0).lte(100).default(100).describe('percentage of the synthetic pool kept (fixed seed-0 subset)'),
  mode: z
    .enum(['faithful', 'full-real-coverage'])
    .default('faithful')
    .describe('faithful: ceil(R/bs) steps; full-real-coverage: ceil(R/realBs)'),
  resize: z.boolean().default(false).describe('convert synthetic images whose size or channels differ from the real ones'),
  synthetic: z
    .union([sioFilesSchema, sioGeneratorSchema])
    .describe('where the synthetic images come from: a .npy pair {images, labels} or a generator {name, args, count}'),
});

/** Spellings of the `sio:` keys before they became snake_case / `{name, args}` (read until 0.2.0). */
export const sioRenamedKeys: readonly KeyRename[] = [
  { from: 'realRatio', to: 'real_ratio', removeIn: '0.2.0' },
  { from: 'extraPercent', to: 'extra_percent', removeIn: '0.2.0' },
  { from: 'synthetic.generator', to: 'synthetic.name', removeIn: '0.2.0' },
];

export type SioConfig = z.infer<typeof sioConfigSchema>;
export type SioFiles = z.infer<typeof sioFilesSchema>;
export type SioGeneratorSource = z.infer<typeof sioGeneratorSchema>;

export function isGeneratorSource(source: SioConfig['synthetic']): source is SioGeneratorSource {
  return 'name' in source;
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
      const branch = 'name' in synthetic || 'count' in synthetic ? sioGeneratorSchema : sioFilesSchema;
      const inner = branch.safeParse(synthetic);
      if (!inner.success) throw new ConfigError(zodIssuesToConfigIssues(inner.error, `${path}.synthetic`, branch));
    }
    throw new ConfigError(zodIssuesToConfigIssues(parsed.error, path, sioConfigSchema));
  }
  return parsed.data;
}
