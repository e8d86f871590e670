import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initCompute } from '@oodkit/compute';
import { Rng, type Logger, type Postprocessor, type ScoreBatch, type ScoreResult } from '@oodkit/core';
import {
  InMemoryFeatureSource,
  ScoringProgress,
  evaluateOod,
  featureSplitsSchema,
  standardSyntheticLayout,
  syntheticFeatures,
  type FeatureSource,
  type OodProgressEvent,
} from '../src/index.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});
afterEach(() => vi.restoreAllMocks());

/** conf = first feature; one hyperparameter so APS has a grid. */
class FirstFeature implements Postprocessor {
  readonly name = 'first_feature';
  readonly needsNetwork = false;
  readonly requires = [] as const;
  private shift = 0;
  async setup(): Promise<void> {
    // stateless
  }
  async setHyperparameters(values: Record<string, unknown>): Promise<void> {
    this.shift = Number(values.shift ?? this.shift);
  }
  hyperparameters(): Record<string, unknown> {
    return { shift: this.shift };
  }
  async score(batch: ScoreBatch): Promise<ScoreResult> {
    const [n, d] = batch.features.shape;
    const z = (await batch.features.data()) as Float32Array;
    return { pred: new Int32Array(n), conf: Float64Array.from({ length: n }, (_, i) => z[i * d]! + this.shift) };
  }
}

const { spec, roles } = standardSyntheticLayout(0.2);
const data = syntheticFeatures(Rng.fromSeed(4), { numClasses: 3, featureDim: 4, ...spec });
const source = () => new InMemoryFeatureSource(data.finalLayer, data.splits, featureSplitsSchema.parse(roles));
/** A source whose every scoring pass advances the mocked clock by `ms`. */
function timedSource(clock: { now: number }, ms: number): FeatureSource {
  const base = source();
  return {
    model: base.model,
    splits: base.splits,
    setupSplit: (role) => base.setupSplit(role),
    classifierPredictions: (name) => base.classifierPredictions(name),
    scoreSplit: async (name) => {
      clock.now += ms;
      return { name, pred: new Int32Array(), conf: new Float64Array(), labels: new Int32Array() };
    },
  };
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger: Logger & { lines: string[] } = {
    lines,
    debug: () => undefined,
    info: (m) => void lines.push(m),
    warn: (m) => void lines.push(m),
    error: (m) => void lines.push(m),
    child: () => logger,
  };
  return logger;
}

describe('scoring progress', () => {
  it('reports every pass of an evaluation: 2 per APS grid point, then test and each OOD split', async () => {
    const events: OodProgressEvent[] = [];
    await evaluateOod({
      postprocessor: new FirstFeature(),
      source: source(),
      apsGrid: { shift: [0, 1, 2] },
      onProgress: (e) => events.push(e),
    });
    // 3 grid points × (val, ood_val) + test + nearset + farset
    expect(events.map((e) => e.pass)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(events.every((e) => e.total === 9)).toBe(true);
    expect(events.slice(0, 2).map((e) => e.split)).toEqual(['val', 'oodval']);
    expect(events.at(-1)!.etaMs).toBe(0);
  });
  it('logs an estimate after the first pass of a long evaluation, then progress lines; fast ones stay quiet', async () => {
    const clock = { now: 0 };
    vi.spyOn(Date, 'now').mockImplementation(() => clock.now);
    const slow = timedSource(clock, 3000);
    const logger = recordingLogger();
    const progress = new ScoringProgress('knn', logger);
    const tracked = progress.track(slow);
    progress.plan(6);
    for (let i = 0; i < 6; i++) await tracked.scoreSplit(`split${i}`, new FirstFeature());
    expect(logger.lines[0]).toBe('knn: 6 scoring passes, the first (split0) took 3.0 s — about 15 s more');
    // then at most every 5 s, and the last pass
    expect(logger.lines.slice(1)).toEqual([
      'knn: pass 3/6 (split2) done, about 9.0 s left',
      'knn: pass 5/6 (split4) done, about 3.0 s left',
      'knn: pass 6/6 (split5) done, about 0.0 s left',
    ]);

    const quiet = recordingLogger();
    clock.now = 0;
    const fast = timedSource(clock, 10);
    const p2 = new ScoringProgress('msp', quiet);
    p2.plan(6);
    for (let i = 0; i < 6; i++) await p2.track(fast).scoreSplit('x', new FirstFeature());
    expect(quiet.lines).toEqual([]);
  });
});
