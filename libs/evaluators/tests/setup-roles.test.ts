import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute } from '@oodkit/compute';
import { Rng, type PostprocessorSetupData, type ScoreBatch, type ScoreResult, type SetupRole } from '@oodkit/core';
import { InMemoryFeatureSource, evaluateOod, featureSplitsSchema, standardSyntheticLayout, syntheticFeatures } from '../src/index.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

/** Records what setup received; scores the first feature. */
class Recorder {
  readonly name = 'recorder';
  readonly needsNetwork = false;
  received: PostprocessorSetupData = {};
  constructor(readonly requires: readonly SetupRole[]) {}
  async setup(_model: unknown, data: PostprocessorSetupData): Promise<void> {
    this.received = data;
  }
  async setHyperparameters(): Promise<void> {
    // none
  }
  hyperparameters(): Record<string, unknown> {
    return {};
  }
  async score(batch: ScoreBatch): Promise<ScoreResult> {
    const [n, d] = batch.features.shape;
    const z = (await batch.features.data()) as Float32Array;
    return { pred: new Int32Array(n), conf: Float64Array.from({ length: n }, (_, i) => z[i * d]!) };
  }
}

describe('setup roles', () => {
  const { spec, roles } = standardSyntheticLayout(0.2);
  const data = syntheticFeatures(Rng.fromSeed(2), { numClasses: 3, featureDim: 4, ...spec });
  it("a method requiring 'ood_val' gets the OOD validation split at setup (GrOOD's noise prototype)", async () => {
    const pp = new Recorder(['train', 'ood_val']);
    await evaluateOod({
      postprocessor: pp,
      source: new InMemoryFeatureSource(data.finalLayer, data.splits, featureSplitsSchema.parse(roles)),
    });
    expect(pp.received.train?.name).toBe('train');
    expect(pp.received.ood_val?.name).toBe('oodval');
    expect(pp.received.val).toBeUndefined();
  });
  it('names the missing OOD validation split', async () => {
    const { ood_val: _dropped, ...rest } = roles;
    const source = new InMemoryFeatureSource(data.finalLayer, data.splits, featureSplitsSchema.parse(rest));
    await expect(evaluateOod({ postprocessor: new Recorder(['ood_val']), source })).rejects.toThrow(
      /fits on the OOD validation split, but the split map names no 'ood_val' split/,
    );
  });
});
