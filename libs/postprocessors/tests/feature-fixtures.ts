import { Rng, type FeatureSplit, type FinalLayer } from '@oodkit/core';

/** Seeded Gaussian rows, row-major Float32Array [n, d]. */
export function gaussianRows(rng: Rng, n: number, d: number, mean = 0, std = 1): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal(mean, std);
  return out;
}

export function layer(weight: ArrayLike<number>, bias: ArrayLike<number>, numClasses: number, featureDim: number): FinalLayer {
  return { numClasses, featureDim, weight: Float32Array.from(weight), bias: Float32Array.from(bias) };
}

export function randomLayer(rng: Rng, c: number, d: number): FinalLayer {
  return layer(gaussianRows(rng, c, d, 0, 0.5), gaussianRows(rng, 1, c, 0, 0.1), c, d);
}

export function split(name: string, features: ArrayLike<number>, labels: ArrayLike<number>, dim: number): FeatureSplit {
  const f = Float32Array.from(features);
  return { name, count: f.length / dim, dim, features: f, labels: Int32Array.from(labels) };
}

/**
 * Clustered ID features: class c's samples around a class-specific centre, labels cycling over classes,
 * with ReLU-like non-negativity when `nonNegative` (penultimate features of a ReLU network).
 */
export function clusteredSplit(rng: Rng, name: string, n: number, c: number, d: number, nonNegative = false): FeatureSplit {
  const centres = gaussianRows(rng.derive('centres'), c, d, 0, 2);
  const f = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % c;
    labels[i] = y;
    for (let j = 0; j < d; j++) {
      const v = centres[y * d + j] + rng.normal(0, 0.7);
      f[i * d + j] = nonNegative ? Math.max(v, 0) : v;
    }
  }
  return { name, count: n, dim: d, features: f, labels };
}

/** Logits z·Wᵀ + b of one row in float64. */
export function logitsRow(l: FinalLayer, z: ArrayLike<number>, offset = 0): Float64Array {
  const out = new Float64Array(l.numClasses);
  for (let c = 0; c < l.numClasses; c++) {
    let s = l.bias[c];
    for (let j = 0; j < l.featureDim; j++) s += l.weight[c * l.featureDim + j] * z[offset + j];
    out[c] = s;
  }
  return out;
}

export function logSumExpRow(v: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < v.length; i++) m = Math.max(m, v[i]);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.exp(v[i] - m);
  return m + Math.log(s);
}

export function argmaxRow(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}
