import type { FeatureSplit, FinalLayer, Rng } from '@oodkit/core';
import type { FeatureSplitsInput } from './folder.js';

/**
 * Synthetic penultimate features for tests and benchmarks: C class clusters of post-ReLU features
 * (non-negative, as ReAct/ASH/DICE/SCALE assume) and a final layer aligned with the cluster means, so
 * ID accuracy is high. OOD sets:
 *  - `near`: points between two class means (ambiguous class → low softmax confidence),
 *  - `far`: features of small norm off every class direction (low logits and energy).
 */
export interface SyntheticFeatureSpec {
  readonly numClasses: number;
  readonly featureDim: number;
  /** Rows per split name; the split's kind comes from `kinds`. */
  readonly sizes: Readonly<Record<string, number>>;
  readonly kinds: Readonly<Record<string, 'id' | 'near' | 'far'>>;
  /** Mean of a class on its own coordinates, in units of the per-coordinate noise (default 4). */
  readonly separation?: number;
}

export interface SyntheticFeatures {
  readonly finalLayer: FinalLayer;
  readonly splits: FeatureSplit[];
}

function normal(rng: Rng): number {
  return rng.normal();
}

export function syntheticFeatures(rng: Rng, spec: SyntheticFeatureSpec): SyntheticFeatures {
  const { numClasses: c, featureDim: d } = spec;
  const sep = spec.separation ?? 4;
  const meansRng = rng.derive('means');
  // Class k owns the coordinates j ≡ k (mod C) (high mean there), plus small random positive
  // offsets elsewhere; means are non-negative like post-ReLU activations.
  const means = new Float32Array(c * d);
  for (let k = 0; k < c; k++) {
    for (let j = 0; j < d; j++) means[k * d + j] = (j % c === k ? sep : 0) + 0.5 * Math.abs(normal(meansRng));
  }
  const weight = new Float32Array(c * d);
  const colMean = new Float32Array(d);
  for (let k = 0; k < c; k++) for (let j = 0; j < d; j++) colMean[j]! += means[k * d + j]! / c;
  for (let k = 0; k < c; k++) for (let j = 0; j < d; j++) weight[k * d + j] = (means[k * d + j]! - colMean[j]!) / sep;
  const bias = new Float32Array(c);

  const splits: FeatureSplit[] = [];
  for (const [name, count] of Object.entries(spec.sizes)) {
    const kind = spec.kinds[name] ?? 'id';
    const r = rng.derive(`split.${name}`);
    const features = new Float32Array(count * d);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      let center: (j: number) => number;
      if (kind === 'id') {
        const y = i % c;
        labels[i] = y;
        center = (j) => means[y * d + j]!;
      } else if (kind === 'near') {
        const a = r.int(0, c - 1);
        const b = (a + 1 + r.int(0, c - 2)) % c;
        labels[i] = -1;
        center = (j) => 0.5 * (means[a * d + j]! + means[b * d + j]!);
      } else {
        labels[i] = -1;
        center = (j) => 0.35 * colMean[j]!;
      }
      for (let j = 0; j < d; j++) features[i * d + j] = Math.max(0, center(j) + normal(r));
    }
    splits.push({ name, count, dim: d, features, labels });
  }
  return { finalLayer: { numClasses: c, featureDim: d, weight, bias }, splits };
}

/** The standard small layout used by tests: train/val/test ID, ood_val, one near and one far set. */
export function standardSyntheticLayout(scale = 1): {
  spec: Omit<SyntheticFeatureSpec, 'numClasses' | 'featureDim'>;
  roles: FeatureSplitsInput;
} {
  const n = (x: number) => Math.max(1, Math.round(x * scale));
  return {
    spec: {
      sizes: { train: n(500), val: n(200), test: n(300), oodval: n(150), nearset: n(200), farset: n(200) },
      kinds: { train: 'id', val: 'id', test: 'id', oodval: 'near', nearset: 'near', farset: 'far' },
    },
    roles: { train: 'train', val: 'val', test: 'test', ood_val: 'oodval', near: ['nearset'], far: ['farset'] },
  };
}
