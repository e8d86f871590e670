import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCompute } from '@oodkit/compute';
import { Rng, type Postprocessor, type ScoreBatch, type ScoreResult } from '@oodkit/core';
import {
  CCR_FPR_LEVELS,
  EXTENDED_METRIC_COLUMNS,
  InMemoryFeatureSource,
  computeExtendedMetrics,
  evaluateOod,
  featureSplitsSchema,
  formatFixed2,
  standardSyntheticLayout,
  syntheticFeatures,
  writeOodEvaluation,
} from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'oodkit-extended-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/** conf = first feature, pred = argmax of the features (mod C): simple and host-checkable. */
class FirstFeature implements Postprocessor {
  readonly name = 'first_feature';
  readonly needsNetwork = false;
  readonly requires = [] as const;
  async setup(): Promise<void> {
    // stateless
  }
  async setHyperparameters(): Promise<void> {
    // no hyperparameters
  }
  hyperparameters(): Record<string, unknown> {
    return {};
  }
  async score(batch: ScoreBatch): Promise<ScoreResult> {
    const [n, d] = batch.features.shape;
    const z = (await batch.features.data()) as Float32Array;
    const pred = new Int32Array(n);
    const conf = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      conf[i] = z[i * d]!;
      let best = 0;
      for (let j = 1; j < 4; j++) if (z[i * d + j]! > z[i * d + best]!) best = j;
      pred[i] = best;
    }
    return { pred, conf };
  }
}

describe('metrics beyond OpenOOD in the OOD evaluator', () => {
  it('one extended row per OOD dataset (same order as the OpenOOD rows), group means, JSON ×100 and their own CSV', async () => {
    const { spec, roles } = standardSyntheticLayout(0.4);
    const sizes = { ...spec.sizes, farset2: 70 };
    const kinds = { ...spec.kinds, farset2: 'far' as const };
    const data = syntheticFeatures(Rng.fromSeed(11), { numClasses: 4, featureDim: 6, sizes, kinds });
    const source = new InMemoryFeatureSource(
      data.finalLayer,
      data.splits,
      featureSplitsSchema.parse({ ...roles, far: ['farset', 'farset2'] }),
    );
    const evaluation = await evaluateOod({ postprocessor: new FirstFeature(), source });
    expect(evaluation.extended.map((r) => r.dataset)).toEqual(evaluation.rows.map((r) => r.dataset));
    const id = evaluation.scores[0]!;
    for (const name of ['nearset', 'farset', 'farset2']) {
      const ood = evaluation.scores.find((s) => s.name === name)!;
      const row = evaluation.extended.find((r) => r.dataset === name)!;
      const m = computeExtendedMetrics(id.conf, ood.conf, { idPred: id.pred, idLabels: id.labels });
      expect(row.autc).toBe(m.autc);
      expect(row.oscr).toBe(m.oscr);
      expect(row.ccr).toEqual(m.ccrAtFpr!.map((c) => c.ccr));
      expect(row.detectionError).toBe(m.detectionError);
      expect(row.aurra).toBe(m.aurra);
    }
    const far = evaluation.extended.filter((r) => r.group === 'far' && !r.isMean);
    const farMean = evaluation.extended.find((r) => r.dataset === 'farood')!;
    expect(farMean.autc).toBeCloseTo((far[0]!.autc + far[1]!.autc) / 2, 15);
    expect(farMean.ccr[3]).toBeCloseTo((far[0]!.ccr[3]! + far[1]!.ccr[3]!) / 2, 15);

    const out = join(root, 'report');
    const written = await writeOodEvaluation(out, evaluation);
    const json = JSON.parse(readFileSync(written.json, 'utf8'));
    expect(json.extended.map((r: { dataset: string }) => r.dataset)).toEqual(['nearset', 'nearood', 'farset', 'farset2', 'farood']);
    expect(json.extended[0].AUTC).toBeCloseTo(100 * evaluation.extended[0]!.autc, 12);
    // OpenOOD's table (plus PRED_ACC) is unchanged; the extended metrics have their own file
    expect(readFileSync(written.csv, 'utf8').split('\n')[0]).toBe('dataset,FPR@95,AUROC,AUPR_IN,AUPR_OUT,ACC,PRED_ACC');
    const extended = readFileSync(join(out, 'first_feature__metrics_extended.csv'), 'utf8').trim().split('\n');
    expect(extended[0]).toBe(['dataset', ...EXTENDED_METRIC_COLUMNS].join(','));
    expect(EXTENDED_METRIC_COLUMNS).toEqual([
      'AUTC',
      'OSCR',
      ...CCR_FPR_LEVELS.map((f) => `CCR@FPR${f.toExponential()}`),
      'AURRA',
      'DET_ERR',
    ]);
    const r = evaluation.extended[0]!;
    expect(extended[1]).toBe(
      ['nearset', ...[r.autc, r.oscr, ...r.ccr, r.aurra, r.detectionError].map((v) => formatFixed2(100 * v))].join(','),
    );
  });
});
