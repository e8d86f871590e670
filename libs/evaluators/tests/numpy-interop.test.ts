import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute } from '@oodkit/compute';
import { Rng, createOodkitContainer, registryOf, silentLogger, type Postprocessor } from '@oodkit/core';
import { postprocessorsModule } from '@oodkit/postprocessors';
import { FeatureFolder, FeatureFolderSource, evaluateOod } from '../src/index.js';

// A feature folder written by NumPy (float64 weight, float32 bias/features, int64 labels) and the
// MSP metrics NumPy + scikit-learn computed on it: fixtures/make_numpy_folder.py.
const dir = fileURLToPath(new URL('./fixtures/numpy-folder/', import.meta.url));
const expected = JSON.parse(readFileSync(new URL('./fixtures/numpy-folder-expected.json', import.meta.url), 'utf8')) as {
  rows: Record<string, { fpr95: number; auroc: number; auprIn: number; auprOut: number; acc: number }>;
  idConf: number[];
};

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('feature folder written by NumPy', () => {
  it('MSP through the evaluator reproduces NumPy + scikit-learn', async () => {
    const registry = registryOf(createOodkitContainer([postprocessorsModule]));
    if (!registry.has('postprocessor', 'msp')) return;
    const folder = await FeatureFolder.open(dir);
    expect(folder.numClasses).toBe(3);
    expect(folder.featureDim).toBe(5);
    const msp = await registry.build<Postprocessor>('postprocessor', 'msp', { logger: silentLogger, rng: Rng.fromSeed(0), config: {} });
    const evaluation = await evaluateOod({ postprocessor: msp, source: new FeatureFolderSource(folder) });
    const idConf = evaluation.scores[0]!.conf;
    expected.idConf.forEach((c, i) => expect(Math.abs(idConf[i]! - c)).toBeLessThan(1e-6));
    for (const [name, want] of Object.entries(expected.rows)) {
      const row = evaluation.rows.find((r) => r.dataset === name)!;
      expect(Math.abs(row.fpr95 - want.fpr95), `${name} fpr95`).toBeLessThan(1e-9);
      expect(Math.abs(row.auroc - want.auroc), `${name} auroc`).toBeLessThan(1e-9);
      expect(Math.abs(row.auprIn - want.auprIn), `${name} auprIn`).toBeLessThan(1e-9);
      expect(Math.abs(row.auprOut - want.auprOut), `${name} auprOut`).toBeLessThan(1e-9);
      expect(row.acc).toBe(want.acc);
    }
    msp.dispose?.();
  });
});
