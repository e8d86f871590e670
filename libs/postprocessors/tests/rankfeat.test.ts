import { initCompute, tf } from '@oodkit/compute';
import { Rng, silentLogger, type BuildContext, type Classifier } from '@oodkit/core';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { rankfeatArgs, RankfeatPostprocessor, removeRankOne, removeRankOnePower } from '../src/postprocessors/rankfeat.js';
import { expectClose, finalLayer } from './math-fixtures.js';
import { networkReference } from './network-fixtures.js';

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

const ctx = { logger: silentLogger, rng: Rng.fromSeed(3), config: {} } as unknown as BuildContext;

/** M [rows, cols] minus its top singular term, by float64 power iteration on MᵀM run to convergence. */
function residual64(m: number[][]): number[][] {
  const rows = m.length;
  const cols = m[0]!.length;
  let v = Array.from({ length: cols }, (_, j) => 1 + j * 0.1);
  for (let it = 0; it < 2000; it++) {
    const mv = m.map((r) => r.reduce((s, x, j) => s + x * v[j]!, 0));
    const next = Array.from({ length: cols }, (_, j) => mv.reduce((s, x, i) => s + x * m[i]![j]!, 0));
    const norm = Math.hypot(...next);
    v = next.map((x) => x / norm);
  }
  const mv = m.map((r) => r.reduce((s, x, j) => s + x * v[j]!, 0)); // σ u
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => m[i]![j]! - mv[i]! * v[j]!));
}

// A staged network on 2×2×3 inputs: stage 3 = x, stage 4 = 2·relu(stage 3); after stage 4: mean over
// the map, then logits = W·pooled + b.
const W = [
  [1, -0.5, 0.25],
  [-1, 0.5, 2],
];
const B = [0.1, -0.2];
function stagedNetwork(withStages = true): Classifier {
  const w = tf.tensor2d(W);
  const b = tf.tensor1d(B);
  const fromStage = (stage: number, h: Tensor4D): Tensor2D =>
    tf.tidy(() => {
      const s4 = stage === 3 ? tf.mul(tf.relu(h), 2) : h;
      return tf.add(tf.matMul(tf.mean(s4, [1, 2]) as Tensor2D, w, false, true), b) as Tensor2D;
    });
  const unused = () => {
    throw new Error('unused');
  };
  return {
    name: 'staged',
    inputShape: [2, 2, 3],
    numClasses: 2,
    featureDim: 3,
    forward: unused,
    forwardFeatures: unused,
    forwardBlocks: unused,
    forwardThreshold: unused,
    head: unused,
    finalLayer: unused,
    trainableVariables: () => [],
    namedVariables: () => new Map(),
    ...(withStages
      ? {
          stageOutput: (x: Tensor4D, stage: number) => tf.tidy(() => (stage === 3 ? tf.clone(x) : tf.mul(tf.relu(x), 2)) as Tensor4D),
          forwardFromStage: fromStage,
        }
      : {}),
    dispose: () => {
      w.dispose();
      b.dispose();
    },
  };
}

/** The same network and RankFeat by hand, in float64. */
function rankfeat64(x: number[][]): { logit: number[]; conf: number } {
  // x: 4 spatial rows × 3 channels
  const head = (m: number[][]) => {
    const pooled = [0, 1, 2].map((c) => m.reduce((s, r) => s + r[c]!, 0) / m.length);
    return W.map((row, k) => row.reduce((s, v, j) => s + v * pooled[j]!, B[k]!));
  };
  const stage4 = x.map((r) => r.map((v) => 2 * Math.max(0, v)));
  const l1 = head(residual64(stage4));
  const l2 = head(residual64(x).map((r) => r.map((v) => 2 * Math.max(0, v))));
  const logit = l1.map((v, k) => (v + l2[k]!) / 2);
  const m = Math.max(...logit);
  return { logit, conf: m + Math.log(logit.reduce((s, v) => s + Math.exp(v - m), 0)) };
}

describe('rankfeat', () => {
  it.each(['rankfeat_wide', 'rankfeat_tall'])('removes the top singular term as torch.linalg.svd does (%s)', (key) => {
    const ref = networkReference[key];
    const maps = tf.tensor4d(ref.maps, ref.shape);
    const exact = removeRankOne(maps);
    expectClose(exact.dataSync(), ref.residual, 1e-4);
    // the power iteration converges to the same term on a dominant rank-1 part
    const power = removeRankOnePower(maps, 20, 7);
    expectClose(power.dataSync(), ref.residual, 2e-3);
    tf.dispose([maps, exact, power]);
  });

  it('scores energy of the mean logits of both edited stages (hand-computed network)', async () => {
    const xs = [
      [0.5, -1, 2, 1.5, 0.2, -0.3, -0.7, 1.1, 0.9, 0.4, -2, 0.6],
      [1, 2, 0.5, -0.5, 1.5, 2.5, 0.3, 0.1, -1.2, 2, 1, -0.4],
    ];
    const net = stagedNetwork();
    const pp = new RankfeatPostprocessor(rankfeatArgs, rankfeatArgs.parse({ temperature: 1 }), ctx);
    await pp.setup({ finalLayer: finalLayer(W, B), network: net }, {});
    const inputs = tf.tensor4d(xs.flat(), [2, 2, 2, 3]);
    const features = tf.zeros([2, 3]) as Tensor2D;
    const before = tf.memory().numTensors;
    const r = await pp.score({ features, inputs });
    expect(tf.memory().numTensors).toBe(before);
    const expected = xs.map((x) => rankfeat64([0, 1, 2, 3].map((s) => x.slice(3 * s, 3 * s + 3))));
    expectClose(
      r.conf,
      expected.map((e) => e.conf),
      1e-4,
    );
    expect(Array.from(r.pred)).toEqual(expected.map((e) => (e.logit[1]! > e.logit[0]! ? 1 : 0)));
    // temperature: T·logsumexp(ℓ/T)
    await pp.setHyperparameters({ temperature: 2 });
    const t2 = await pp.score({ features, inputs });
    const lse2 = expected.map((e) => 2 * Math.log(e.logit.reduce((s, v) => s + Math.exp(v / 2), 0)));
    expectClose(t2.conf, lse2, 1e-4);
    // accelerate: the power iteration gives the same scores on these maps
    await pp.setHyperparameters({ accelerate: true });
    expectClose((await pp.score({ features, inputs })).conf, lse2, 1e-3);
    pp.dispose();
    tf.dispose([inputs, features]);
    net.dispose();
  });

  it('maps that are exactly rank 1 leave only the bias', () => {
    const u = [1, -2, 0.5, 3];
    const v = [0.2, 1, -1];
    const maps = tf.tensor4d(
      u.flatMap((a) => v.map((b) => a * b)),
      [1, 2, 2, 3],
    );
    const r = removeRankOne(maps);
    for (const x of r.dataSync()) expect(Math.abs(x)).toBeLessThan(1e-5);
    tf.dispose([maps, r]);
  });

  it('refuses feature folders and networks without residual stages, by name', async () => {
    const pp = new RankfeatPostprocessor(rankfeatArgs, rankfeatArgs.parse({}), ctx);
    await expect(pp.setup({ finalLayer: finalLayer(W, B) }, {})).rejects.toThrow(/rankfeat needs the network/);
    const net = stagedNetwork(false);
    await expect(pp.setup({ finalLayer: finalLayer(W, B), network: net }, {})).rejects.toThrow(/network 'staged' exposes no stages/);
    net.dispose();
  });
});
