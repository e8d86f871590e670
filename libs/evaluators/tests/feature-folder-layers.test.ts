import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute } from '@oodkit/compute';
import { DataError, Rng, createOodkitContainer, registryOf, silentLogger, type LayerFeatures } from '@oodkit/core';
import { buildPostprocessor, postprocessorsModule } from '@oodkit/postprocessors';
import {
  FeatureFolder,
  FeatureFolderSource,
  evaluateOod,
  standardSyntheticLayout,
  syntheticFeatures,
  writeFeatureFolder,
} from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'oodkit-ffl-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const registry = registryOf(createOodkitContainer([postprocessorsModule]));
const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/** A folder whose extra layer 'block' is a fixed transform of z (so it is deterministic per row). */
async function write(name: string, withLayers: boolean) {
  const dir = join(root, name);
  const { spec, roles } = standardSyntheticLayout(0.1);
  const data = syntheticFeatures(Rng.fromSeed(3), { numClasses: 3, featureDim: 4, ...spec });
  const block = (f: Float32Array): LayerFeatures => {
    const rows = f.length / 4;
    const out = new Float32Array(rows * 6);
    for (let i = 0; i < rows; i++) for (let j = 0; j < 6; j++) out[i * 6 + j] = Math.tanh(f[i * 4 + (j % 4)]! * (j + 1) * 0.3) + 0.01 * j;
    return { dim: 6, features: out };
  };
  const splits = data.splits.map((s) => (withLayers ? { ...s, layers: { block: block(s.features) } } : s));
  await writeFeatureFolder(dir, { finalLayer: data.finalLayer, splits, roles, ...(withLayers ? { layers: { block: 6 } } : {}) });
  return { dir, data, block };
}

describe('multi-layer feature folders', () => {
  it('a folder written before layers existed opens as the single layer penultimate', async () => {
    const { dir } = await write('old', false);
    const folder = await FeatureFolder.open(dir);
    expect(folder.layers).toEqual(['penultimate']);
    expect((await folder.splitWithLayers('test', ['penultimate'])).layers).toBeUndefined();
    await expect(folder.splitWithLayers('test', ['layer3'])).rejects.toThrow(/holds no layer 'layer3' \(its layers: penultimate\)/);
    // the layered path over z only runs on it, and equals plain mds
    const source = new FeatureFolderSource(folder);
    const layered = await evaluateOod({
      postprocessor: await buildPostprocessor(registry, { name: 'mds', layers: ['penultimate'] }, ctx),
      source,
    });
    const plain = await evaluateOod({ postprocessor: await buildPostprocessor(registry, { name: 'mds' }, ctx), source });
    expect(layered.rows).toEqual(plain.rows);
  });

  it('round-trips extra layers and evaluates a detector over them', async () => {
    const { dir, data, block } = await write('new', true);
    const folder = await FeatureFolder.open(dir);
    expect(folder.layers).toEqual(['penultimate', 'block']);
    const test = await folder.splitWithLayers('test', ['block']);
    expect(test.layers!.block!.features).toEqual(block(data.splits.find((s) => s.name === 'test')!.features).features);
    const pp = await buildPostprocessor(
      registry,
      { name: 'knn', args: { K: 3 }, layers: ['block', 'penultimate'], aggregator: 'fisher' },
      ctx,
    );
    const evaluation = await evaluateOod({ postprocessor: pp, source: new FeatureFolderSource(folder) });
    for (const row of evaluation.rows) expect(row.auroc).toBeGreaterThanOrEqual(0);
    pp.dispose?.();
  });

  it('a layer file of the wrong shape is named at open', async () => {
    const { dir } = await write('bad', true);
    writeFileSync(join(dir, 'layers.yml'), 'pooling: global_average\nlayers: { block: 5 }\n');
    await expect(FeatureFolder.open(dir)).rejects.toThrow(DataError);
    await expect(FeatureFolder.open(dir)).rejects.toThrow(/layers\/block\/train_features\.npy: shape \[\d+, 6\], expected \[\d+, 5\]/);
    writeFileSync(join(dir, 'layers.yml'), 'pooling: max\nlayers: { block: 6 }\n');
    await expect(FeatureFolder.open(dir)).rejects.toThrow(/layers\.yml/);
  });
});
