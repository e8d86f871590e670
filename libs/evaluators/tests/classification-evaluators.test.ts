import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DataError, Rng, createOodkitContainer, registryOf, silentLogger } from '@oodkit/core';
import {
  AccEvaluator,
  EceEvaluator,
  OodEvaluator,
  accuracyMetrics,
  buildClassificationEvaluator,
  buildEvaluator,
  buildOodEvaluator,
  evaluatorsModule,
  expectedCalibrationError,
  type ClassifierOutputs,
} from '../src/index.js';

interface ReferenceCase {
  numClasses: number;
  logits: number[];
  labels: number[];
  accuracy: number;
  perClass: (number | null)[];
  loss: number;
  ece15: number;
  ece10: number;
  eceLogit15: number;
}
/** Written by fixtures/make_ece_reference.py (numpy + torch, OpenOOD's ECE binning). */
const reference = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'ece-reference.json'), 'utf8')) as { cases: ReferenceCase[] };

const outputsOf = (c: { numClasses: number; logits: number[]; labels: number[] }): ClassifierOutputs => ({
  split: 'test',
  numClasses: c.numClasses,
  logits: Float32Array.from(c.logits),
  labels: Int32Array.from(c.labels),
});

const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };
const registry = () => registryOf(createOodkitContainer([evaluatorsModule]));

describe('acc evaluator', () => {
  it('argmax accuracy, per class, first maximum on ties (hand-computed)', () => {
    const m = accuracyMetrics(outputsOf({ numClasses: 3, logits: [1, 2, 0, 5, 1, 1, 0, 0, 3, 2, 2, 0], labels: [1, 1, 2, 1] }));
    // preds: 1, 0, 2, 0 (tie between classes 0 and 1 → 0)
    expect(m.correct).toBe(2);
    expect(m.accuracy).toBe(0.5);
    expect(m.perClass).toEqual([
      { class: 0, count: 0, correct: 0, accuracy: null },
      { class: 1, count: 3, correct: 1, accuracy: 1 / 3 },
      { class: 2, count: 1, correct: 1, accuracy: 1 },
    ]);
    // mean cross-entropy: −log softmax(label) per row
    const ce = (row: number[], y: number) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[y]!;
    expect(m.loss).toBeCloseTo((ce([1, 2, 0], 1) + ce([5, 1, 1], 1) + ce([0, 0, 3], 2) + ce([2, 2, 0], 1)) / 4, 12);
  });

  it('agrees with torch on the reference cases', () => {
    for (const c of reference.cases) {
      const m = new AccEvaluator({ per_class: true }).evaluate(outputsOf(c));
      expect(m.accuracy).toBe(c.accuracy);
      expect(m.perClass!.map((p) => p.accuracy)).toEqual(c.perClass);
      expect(m.loss).toBeCloseTo(c.loss, 9);
    }
  });

  it('refuses labels outside the classes and mismatched shapes', () => {
    expect(() => accuracyMetrics(outputsOf({ numClasses: 2, logits: [0, 1], labels: [2] }))).toThrow(DataError);
    expect(() => accuracyMetrics(outputsOf({ numClasses: 2, logits: [0, 1, 2], labels: [0] }))).toThrow(
      /3 logits for 1 samples × 2 classes/,
    );
  });
});

describe('ece evaluator', () => {
  it("OpenOOD's binning, hand-computed: half-open bins, a confidence of exactly 1 falls in none", () => {
    // bins of width 1/15: 0.95 → [14/15, 1), 0.5 → [7/15, 8/15), 0.25 → [3/15, 4/15); 1.0 → no bin
    const { ece, bins } = expectedCalibrationError([0.95, 0.95, 0.5, 0.25, 1.0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], 15);
    // (2·|0.95 − 0.5| + |0.5 − 0| + |0.25 − 1|) / 4
    expect(ece).toBeCloseTo((2 * 0.45 + 0.5 + 0.75) / 4, 14);
    expect(bins.map((b) => b.count)).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2]);
    expect(bins[14]).toMatchObject({ confidence: 0.95, accuracy: 0.5 });
    expect(bins[0]).toMatchObject({ count: 0, confidence: null, accuracy: null });
    expect(expectedCalibrationError([1, 1.5], [0, 0], [0, 0]).ece).toBe(0);
  });

  it('agrees with the numpy/torch reference (max softmax, 15 and 10 bins; max logit)', () => {
    for (const c of reference.cases) {
      const outputs = outputsOf(c);
      const m15 = new EceEvaluator({ num_bins: 15, confidence: 'softmax' }).evaluate(outputs);
      expect(m15.ece).toBeCloseTo(c.ece15, 12);
      expect(m15.accuracy).toBe(c.accuracy);
      expect(m15.bins).toHaveLength(15);
      expect(m15.bins.reduce((s, b) => s + b.count, 0)).toBe(c.labels.length);
      expect(new EceEvaluator({ num_bins: 10, confidence: 'softmax' }).evaluate(outputs).ece).toBeCloseTo(c.ece10, 12);
      expect(new EceEvaluator({ num_bins: 15, confidence: 'logit' }).evaluate(outputs).ece).toBeCloseTo(c.eceLogit15, 12);
    }
  });

  it('a perfectly calibrated split has ECE 0; an always-wrong confident one its confidence', () => {
    // two classes, logits [log 3, 0]: p = 0.75 on class 0; 3 of 4 labelled 0 → calibrated
    const l = Math.log(3);
    const calibrated = new EceEvaluator({ num_bins: 15, confidence: 'softmax' }).evaluate(
      outputsOf({ numClasses: 2, logits: [l, 0, l, 0, l, 0, l, 0], labels: [0, 0, 0, 1] }),
    );
    expect(calibrated.ece).toBeCloseTo(0, 7);
    const wrong = new EceEvaluator({ num_bins: 15, confidence: 'softmax' }).evaluate(
      outputsOf({ numClasses: 2, logits: [l, 0, l, 0], labels: [1, 1] }),
    );
    expect(wrong.ece).toBeCloseTo(0.75, 7); // float32 logits
  });
});

describe('registration and building', () => {
  it('acc, ece and ood are registered evaluators with defaults', async () => {
    const reg = registry();
    expect(reg.names('evaluator')).toEqual(expect.arrayContaining(['acc', 'ece', 'ood']));
    const ece = await buildClassificationEvaluator(reg, { name: 'ece' }, ctx, 'test_acc');
    expect(ece).toBeInstanceOf(EceEvaluator);
    expect((ece as EceEvaluator).args).toEqual({ num_bins: 15, confidence: 'softmax' });
    expect(await buildClassificationEvaluator(reg, undefined, ctx, 'test_acc')).toBeInstanceOf(AccEvaluator);
    expect(await buildOodEvaluator(reg, undefined, ctx, 'test_ood')).toBeInstanceOf(OodEvaluator);
    expect(await buildEvaluator(reg, 'acc', ctx, { defaultName: 'ood' })).toBeInstanceOf(AccEvaluator);
  });

  it('a wrong family or bad args are ConfigErrors naming the key', async () => {
    const reg = registry();
    await expect(buildOodEvaluator(reg, { name: 'ece' }, ctx, 'test_ood')).rejects.toThrow(
      /evaluator\.name: test_ood needs an OOD evaluator \('ood'\); 'ece' is not one/,
    );
    await expect(buildClassificationEvaluator(reg, { name: 'ood' }, ctx, 'test_acc')).rejects.toThrow(ConfigError);
    await expect(buildClassificationEvaluator(reg, { name: 'ece', args: { num_bin: 3 } }, ctx, 'test_acc')).rejects.toThrow(/num_bin/);
  });
});
