import { tf } from '@oodkit/compute';
import type { FeatureSplit, FinalLayer, Postprocessor, PostprocessorSetupData, ScoreResult, ScoringModel } from '@oodkit/core';

/** Final layer from rows of W [C][D] and b [C]. */
export function finalLayer(weight: number[][], bias: number[]): FinalLayer {
  return { numClasses: weight.length, featureDim: weight[0].length, weight: Float32Array.from(weight.flat()), bias: Float32Array.from(bias) };
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
export async function fitAndScore(pp: Postprocessor, model: ScoringModel, data: PostprocessorSetupData, rows: number[][]): Promise<ScoreResult> {
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
