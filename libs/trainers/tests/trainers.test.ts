import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import type { Trainer } from '@oodkit/core';
import { cosineLearningRate, drawCutMix, drawMixOe, drawMixup } from '../src/index.js';
import {
  B0,
  C,
  D,
  LinearClassifier,
  OUTLIERS,
  SHAPE,
  W0,
  X,
  Y,
  buildTrainer,
  ce,
  disposeBatch,
  logitsOf,
  makeBatch,
  mean,
  softCe,
  softmax,
  trainerRng,
} from './helpers.js';

beforeAll(async () => {
  await initCompute({ backend: 'wasm' });
});

const plan = { epochs: 2, stepsPerEpoch: 10 };
const cleanup: Array<{ dispose(): void }> = [];
afterEach(() => {
  cleanup.splice(0).forEach((c) => c.dispose());
});

function setup(): { net: LinearClassifier; batch: ReturnType<typeof makeBatch>; outliers: ReturnType<typeof makeBatch> } {
  const net = new LinearClassifier(SHAPE, C, W0, B0);
  const batch = makeBatch(X, Y, SHAPE);
  const outliers = makeBatch(
    OUTLIERS,
    OUTLIERS.map(() => -1),
    SHAPE,
  );
  cleanup.push(net, { dispose: () => disposeBatch(batch) }, { dispose: () => disposeBatch(outliers) });
  return { net, batch, outliers };
}

const cleanCe = (net: LinearClassifier) => mean(X.map((x, i) => ce(logitsOf(net.w, net.b, x), Y[i])));
const normalized = (l: number[], tau: number) => {
  const norm = Math.sqrt(l.reduce((s, v) => s + v * v, 0)) + 1e-7;
  return l.map((v) => v / norm / tau);
};
/** LogitNorm optimises CE of normalised logits (raw-logit CE may grow); measure what it optimises. */
const logitNormCe = (net: LinearClassifier) => mean(X.map((x, i) => ce(normalized(logitsOf(net.w, net.b, x), 0.04), Y[i])));
const oneHot = (y: number) => Array.from({ length: C }, (_, c) => (c === y ? 1 : 0));

async function trained(
  name: string,
  args: Record<string, unknown> = {},
  seed = 0,
): Promise<{ trainer: Trainer; net: LinearClassifier } & ReturnType<typeof setup>> {
  const s = setup();
  const trainer = await buildTrainer(name, args, seed);
  trainer.init(s.net, plan);
  return { trainer, ...s };
}

describe('base', () => {
  it('loss is the mean cross-entropy and the update is one PyTorch SGD step (Nesterov, wd 5e-4, lr 0.1)', async () => {
    const { trainer, net, batch } = await trained('base');
    const { loss } = await trainer.step(batch);
    const logits = X.map((x) => logitsOf(W0, B0, x));
    expect(loss).toBeCloseTo(mean(logits.map((l, i) => ce(l, Y[i]))), 5);
    // dL/dW = mean_i (p_i − onehot_i) x_iᵀ; first step: buf = d = g + wd·p; p −= lr·(d + 0.9·d)
    const delta = logits.map((l, i) => softmax(l).map((p, c) => p - oneHot(Y[i])[c]));
    const w = net.w;
    for (let c = 0; c < C; c++) {
      for (let j = 0; j < D; j++) {
        const g = mean(X.map((x, i) => delta[i][c] * x[j])) + 5e-4 * W0[c][j];
        expect(w[c][j]).toBeCloseTo(W0[c][j] - 0.1 * 1.9 * g, 6);
      }
      const gb = mean(delta.map((d) => d[c])) + 5e-4 * B0[c];
      expect(net.b[c]).toBeCloseTo(B0[c] - 0.1 * 1.9 * gb, 6);
    }
    // Second step: cosine rate of step 1, momentum buffer from step 1, loss reported before the update.
    const w1 = net.w;
    const b1 = net.b;
    const second = await trainer.step(batch);
    const logits1 = X.map((x) => logitsOf(w1, b1, x));
    expect(second.loss).toBeCloseTo(mean(logits1.map((l, i) => ce(l, Y[i]))), 5);
    const lr1 = cosineLearningRate(1, 20, 0.1, 1e-6);
    const delta1 = logits1.map((l, i) => softmax(l).map((p, c) => p - oneHot(Y[i])[c]));
    const w2 = net.w;
    for (let c = 0; c < C; c++)
      for (let j = 0; j < D; j++) {
        const d0 = mean(X.map((x, i) => delta[i][c] * x[j])) + 5e-4 * W0[c][j];
        const d1 = mean(X.map((x, i) => delta1[i][c] * x[j])) + 5e-4 * w1[c][j];
        const buf = 0.9 * d0 + d1;
        expect(w2[c][j]).toBeCloseTo(w1[c][j] - lr1 * (d1 + 0.9 * buf), 6);
      }
    expect(trainer.getState().step).toBe(2);
  });

  it('requires init and reports non-finite losses without updating', async () => {
    const trainer = await buildTrainer('base');
    const { batch, net } = setup();
    await expect(trainer.step(batch)).rejects.toThrow(/init\(network, plan\)/);
    trainer.init(net, plan);
    const bad = makeBatch(
      X.map((x) => x.map(() => NaN)),
      Y,
      SHAPE,
    );
    const { loss } = await trainer.step(bad);
    disposeBatch(bad);
    expect(Number.isNaN(loss)).toBe(true);
    expect(trainer.getState().step).toBe(0);
    expect(net.w).toEqual(new LinearClassifier(SHAPE, C, W0, B0).w);
  });
});

describe('oe', () => {
  it('CE on ID + 0.5·mean(−(mean ℓ − logsumexp ℓ)) on outliers', async () => {
    const { trainer, batch, outliers } = await trained('oe');
    expect(trainer.needsOutliers).toBe(true);
    await expect(trainer.step(batch)).rejects.toThrow(/needs an outlier batch/);
    const { loss } = await trainer.step(batch, outliers);
    const idLoss = mean(X.map((x, i) => ce(logitsOf(W0, B0, x), Y[i])));
    const oeLoss = mean(OUTLIERS.map((x) => mean(logitsOf(W0, B0, x).map((_, c, l) => ce(l, c)))));
    expect(loss).toBeCloseTo(idLoss + 0.5 * oeLoss, 5);
  });
});

describe('logitnorm', () => {
  it('CE on ℓ/((‖ℓ‖+1e-7)·τ), τ 0.04', async () => {
    const { trainer, batch } = await trained('logitnorm');
    const { loss } = await trainer.step(batch);
    const expected = mean(X.map((x, i) => ce(normalized(logitsOf(W0, B0, x), 0.04), Y[i])));
    expect(loss).toBeCloseTo(expected, 4);
  });
});

describe('mixup', () => {
  it('soft CE of the mixed batch against mixed one-hot labels', async () => {
    const { trainer, batch } = await trained('mixup', { alpha: 0.4 });
    const { lam, perm } = drawMixup(trainerRng(0).derive('draws'), 0.4, 6);
    expect(lam).toBeGreaterThan(0.01);
    expect(lam).toBeLessThan(0.99);
    const { loss } = await trainer.step(batch);
    const expected = mean(
      X.map((x, i) => {
        const xm = x.map((v, j) => lam * v + (1 - lam) * X[perm[i]][j]);
        const q = oneHot(Y[i]).map((v, c) => lam * v + (1 - lam) * oneHot(Y[perm[i]])[c]);
        return softCe(logitsOf(W0, B0, xm), q);
      }),
    );
    expect(loss).toBeCloseTo(expected, 5);
  });
});

describe('cutmix', () => {
  it('pastes the drawn box from the permuted batch and mixes the two CEs by area', async () => {
    const { trainer, batch } = await trained('cutmix', {}, 8); // seed 8 draws an interior 2×2 box
    const draw = drawCutMix(trainerRng(8).derive('draws'), { beta: 1, cutmix_prob: 1 }, 6, 4, 4);
    if (!draw.apply) throw new Error('expected the draw to apply');
    expect(draw.lam).toBeGreaterThan(0);
    expect(draw.lam).toBeLessThan(1);
    const { loss } = await trainer.step(batch);
    const { box, lam, perm } = draw;
    const inBox = (j: number) => Math.floor(j / 4) >= box.r1 && Math.floor(j / 4) < box.r2 && j % 4 >= box.c1 && j % 4 < box.c2;
    const logits = X.map((x, i) =>
      logitsOf(
        W0,
        B0,
        x.map((v, j) => (inBox(j) ? X[perm[i]][j] : v)),
      ),
    );
    const expected = lam * mean(logits.map((l, i) => ce(l, Y[i]))) + (1 - lam) * mean(logits.map((l, i) => ce(l, Y[perm[i]])));
    expect(loss).toBeCloseTo(expected, 5);
  });

  it('with cutmix_prob 0 it is plain CE', async () => {
    const { trainer, batch } = await trained('cutmix', { cutmix_prob: 0 });
    const { loss } = await trainer.step(batch);
    expect(loss).toBeCloseTo(mean(X.map((x, i) => ce(logitsOf(W0, B0, x), Y[i]))), 5);
  });
});

describe('regmixup', () => {
  it('λ·CE(ℓ, [y; y]) + (1−λ)·CE(ℓ, [y; y[π]]) over the joint batch [x; mixup(x)]', async () => {
    const { trainer, batch } = await trained('regmixup');
    const { lam, perm } = drawMixup(trainerRng(0).derive('draws'), 20, 6);
    const { loss } = await trainer.step(batch);
    const clean = X.map((x) => logitsOf(W0, B0, x));
    const mixed = X.map((x, i) =>
      logitsOf(
        W0,
        B0,
        x.map((v, j) => lam * v + (1 - lam) * X[perm[i]][j]),
      ),
    );
    const all = [...clean, ...mixed];
    const a = [...Y, ...Y];
    const b = [...Y, ...Y.map((_, i) => Y[perm[i]])];
    const expected = lam * mean(all.map((l, i) => ce(l, a[i]))) + (1 - lam) * mean(all.map((l, i) => ce(l, b[i])));
    expect(loss).toBeCloseTo(expected, 5);
  });
});

describe('mixoe', () => {
  for (const mixOp of ['cutmix', 'mixup'] as const) {
    it(`${mixOp}: CE on ID + λ_oe·softCE(mixed, λ·onehot + (1−λ)/C)`, async () => {
      const { trainer, batch, outliers } = await trained('mixoe', { mix_op: mixOp, alpha: 1 });
      const { lam, box } = drawMixOe(trainerRng(0).derive('draws'), { alpha: 1, beta: 1, mix_op: mixOp }, 4, 4);
      const { loss } = await trainer.step(batch, outliers);
      const inBox = (j: number) => !!box && Math.floor(j / 4) >= box.r1 && Math.floor(j / 4) < box.r2 && j % 4 >= box.c1 && j % 4 < box.c2;
      const mixed = X.map((x, i) => x.map((v, j) => (box ? (inBox(j) ? OUTLIERS[i][j] : v) : lam * v + (1 - lam) * OUTLIERS[i][j])));
      const idLoss = mean(X.map((x, i) => ce(logitsOf(W0, B0, x), Y[i])));
      const mixLoss = mean(
        mixed.map((x, i) =>
          softCe(
            logitsOf(W0, B0, x),
            oneHot(Y[i]).map((v) => lam * v + (1 - lam) / C),
          ),
        ),
      );
      expect(loss).toBeCloseTo(idLoss + mixLoss, 5);
    });
  }

  it('rejects an outlier batch smaller than the ID batch', async () => {
    const { trainer, batch } = await trained('mixoe');
    const few = makeBatch(OUTLIERS.slice(0, 2), [-1, -1], SHAPE);
    await expect(trainer.step(batch, few)).rejects.toThrow(/fewer than the ID batch/);
    disposeBatch(few);
  });
});

describe('registry', () => {
  it('declares which trainers need outliers and validates args with suggestions', async () => {
    const needs = await Promise.all(
      ['base', 'oe', 'mixoe', 'logitnorm', 'mixup', 'cutmix', 'regmixup', 'vos'].map(async (n) => [
        n,
        (await buildTrainer(n)).needsOutliers,
      ]),
    );
    expect(Object.fromEntries(needs)).toEqual({
      base: false,
      oe: true,
      mixoe: true,
      logitnorm: false,
      mixup: false,
      cutmix: false,
      regmixup: false,
      vos: false,
    });
    await expect(buildTrainer('oe', { lamda_oe: 1 })).rejects.toThrow(/unknown key 'lamda_oe' \(did you mean 'lambda_oe'\?\)/);
    await expect(buildTrainer('mixoe', { mix_op: 'blend' })).rejects.toThrow(/mix_op/);
    await expect(buildTrainer('base', { lr: -1 })).rejects.toThrow(/trainer\.args\.lr/);
  });
});

describe('every trainer', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['base', {}],
    ['oe', {}],
    ['mixoe', {}],
    ['logitnorm', {}],
    ['mixup', {}],
    ['cutmix', {}],
    ['regmixup', {}],
    ['vos', { sample_number: 2, sample_from: 50 }],
  ];
  for (const [name, args] of cases) {
    it(`${name}: a few steps reduce the clean loss, without leaking tensors`, async () => {
      const { trainer, net, batch, outliers } = await trained(name, args);
      const measure = name === 'logitnorm' ? logitNormCe : cleanCe;
      const before = measure(net);
      const counts: number[] = [];
      for (let i = 0; i < 12; i++) {
        const { loss } = await trainer.step(batch, outliers);
        expect(Number.isFinite(loss)).toBe(true);
        counts.push(tf.memory().numTensors);
      }
      // LogitNorm's loss moves slowly: its gradient w.r.t. W shrinks as ‖ℓ‖ grows.
      expect(measure(net)).toBeLessThan(before * (name === 'logitnorm' ? 0.95 : 0.8));
      expect(new Set(counts.slice(2)).size).toBe(1);
    });
  }
});
