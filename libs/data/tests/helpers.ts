import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOodkitContainer, registryOf, Rng, silentLogger, type BuildContext, type ImageDataset } from '@oodkit/core';
import { dataModule } from '../src/module.js';

export const registry = registryOf(createOodkitContainer([dataModule]));

export function ctx(config: Record<string, unknown> = {}): Omit<BuildContext, 'registry'> {
  return { logger: silentLogger, rng: Rng.fromSeed(1), config };
}

export function build(name: string, args: Record<string, unknown>, config: Record<string, unknown> = {}): Promise<ImageDataset> {
  return registry.build<ImageDataset>('dataset', { name, args }, ctx(config));
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'oodkit-data-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
