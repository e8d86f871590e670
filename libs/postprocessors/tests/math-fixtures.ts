import { readFileSync } from 'node:fs';
import { tf } from '@oodkit/compute';
import { expect } from 'vitest';
import { Rng, silentLogger } from '@oodkit/core';
import type {
  ComponentRegistry,
  FeatureSplit,
  FinalLayer,
  Postprocessor,
  PostprocessorSetupData,
  ScoreResult,
  ScoringModel,
} from '@oodkit/core';

/** Final layer from rows of W [C][D] and b [C]. */
export function finalLayer(weight: number[][], bias: number[]): FinalLayer {
  return {
    numClasses: weight.length,
    featureDim: weight[0].length,
    weight: Float32Array.from(weight.flat()),
    bias: Float32Array.from(bias),
  };
}

export function featureSplit(name: string, rows: number[][], labels?: number[]): FeatureSplit {
  return {
    name,
    count: rows.length,
    dim: rows[0]?.length ?? 0,
    features: Float32Array.from(rows.flat()),
    labels: Int32Array.from(labels ?? rows.map(() => 0)),
  };
}

/** setup + score rows, checking that scoring leaves no tensor behind. */
export async function fitAndScore(
  pp: Postprocessor,
  model: ScoringModel,
  data: PostprocessorSetupData,
  rows: number[][],
): Promise<ScoreResult> {
  await pp.setup(model, data);
  return scoreRows(pp, rows);
}

export async function scoreRows(pp: Postprocessor, rows: number[][]): Promise<ScoreResult> {
  const before = tf.memory().numTensors;
  const features = tf.tensor2d(rows);
  const result = await pp.score({ features });
  features.dispose();
  if (tf.memory().numTensors !== before) throw new Error(`${pp.name} leaked ${tf.memory().numTensors - before} tensors`);
  return result;
}

/** logits = z·Wᵀ + b in float64. */
export function logits64(layer: FinalLayer, z: number[]): number[] {
  const out: number[] = [];
  for (let c = 0; c < layer.numClasses; c++) {
    let s = layer.bias[c];
    for (let j = 0; j < layer.featureDim; j++) s += layer.weight[c * layer.featureDim + j] * z[j];
    out.push(s);
  }
  return out;
}

export function softmax64(l: number[]): number[] {
  const m = Math.max(...l);
  const e = l.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export function lse64(l: number[]): number {
  const m = Math.max(...l);
  return m + Math.log(l.reduce((s, v) => s + Math.exp(v - m), 0));
}

export function argmax64(v: number[]): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** |a − b| ≤ tol·max(1, |b|) elementwise, with a readable failure. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (tol ${tol}); actual [${Array.from(actual).join(', ')}]`);
    }
  }
}

// Two classes with means (1, 0) and (11, 10), each with deviations (2,1), (−2,−1), (0,1), (0,−1):
// Σ devᵀdev per class = [[8,4],[4,4]] → pooled covariance (1/8)·2·that = [[2,1],[1,1]],
// precision = [[1,−1],[−1,2]].
export const mdsTrainRows = [
  [3, 1],
  [-1, -1],
  [1, 1],
  [1, -1],
  [13, 11],
  [9, 9],
  [11, 11],
  [11, 9],
];
export const mdsTrainLabels = [0, 0, 0, 0, 1, 1, 1, 1];
export const mdsLayer = finalLayer(
  [
    [1, -1],
    [-0.5, 1],
  ],
  [0, 0.25],
);

/** A numpy/scipy reference fixture (fixtures/*_reference.py → *.json): features, final layer, expected scores. */
export interface ReferenceFixture {
  C: number;
  D: number;
  weight: number[];
  bias: number[];
  train: number[];
  train_labels: number[];
  val: number[];
  val_labels: number[];
  test: number[];
  expected: Record<string, number[]>;
}

/**
 * Loads a reference fixture and returns a scorer: build `name` with `args` from the registry, fit it
 * on the fixture's train/val features, score its test features. The caller disposes the postprocessor.
 */
export function referenceScorer(file: string, registry: ComponentRegistry) {
  const ref = JSON.parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8')) as ReferenceFixture;
  const split = (name: string, f: number[], labels: number[]): FeatureSplit => ({
    name,
    count: labels.length,
    dim: ref.D,
    features: Float32Array.from(f),
    labels: Int32Array.from(labels),
  });
  const model = {
    finalLayer: { numClasses: ref.C, featureDim: ref.D, weight: Float32Array.from(ref.weight), bias: Float32Array.from(ref.bias) },
  };
  const data = { train: split('train', ref.train, ref.train_labels), val: split('val', ref.val, ref.val_labels) };
  const ctx = { logger: silentLogger, rng: Rng.fromSeed(0), config: {} };
  const score = async (name: string, args: Record<string, unknown> = {}): Promise<{ pp: Postprocessor; result: ScoreResult }> => {
    const pp = await registry.build<Postprocessor>('postprocessor', { name, args }, ctx);
    await pp.setup(model, data);
    const features = tf.tensor2d(ref.test, [ref.test.length / ref.D, ref.D]);
    try {
      return { pp, result: await pp.score({ features }) };
    } finally {
      features.dispose();
    }
  };
  return { ref, model, data, score };
}

/** n non-negative features of c classes: dimension j carries class j mod c at mean `signal`, others 0.5. */
export function classSignalSplit(name: string, rng: Rng, n: number, d: number, c: number, signal: number): FeatureSplit {
  const features = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % c;
    for (let j = 0; j < d; j++) features[i * d + j] = Math.max(0, rng.normal(j % c === labels[i] ? signal : 0.5, 1));
  }
  return { name, count: n, dim: d, features, labels };
}

/** Every grid key is an arg, and every grid value parses with the other args at their defaults. */
export function expectGridInsideSchema(registry: ComponentRegistry, name: string): void {
  const def = registry.get('postprocessor', name);
  const defaults = def.args.parse({});
  for (const [key, values] of Object.entries(def.grid ?? {})) {
    expect(Object.keys(def.args.shape), `${name}.${key}`).toContain(key);
    for (const v of values as unknown[]) expect(def.args.safeParse({ ...defaults, [key]: v }).success, `${name}.${key}=${v}`).toBe(true);
  }
}
