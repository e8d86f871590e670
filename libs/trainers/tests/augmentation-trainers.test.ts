import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng } from '@oodkit/core';
import type { Image8 } from '../src/augment/pil-ops.js';
import { applyOp, augMixSpace, randAugmentSpace, type OpName } from '../src/augment/torchvision-ops.js';
import { augmixImage, jsdConsistency, sampleDirichlet } from '../src/trainers/augmix.js';
import { cutoutMasks } from '../src/trainers/cutout.js';
import { randAugmentImage } from '../src/trainers/randaugment.js';
import {
  B0,
  C,
  LinearClassifier,
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
  trainerRng,
} from './helpers.js';

// torchvision 0.14 / Pillow 9 outputs from libs/trainers/tools/torchvision_ops_reference.py.
const fx = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'torchvision-ops-reference.json'), 'utf8')) as {
  randaugment31: Record<string, [number[] | null, boolean]>;
  augmix10: Record<string, [number[] | null, boolean]>;
  cases: { h: number; w: number; c: number; input: number[]; outputs: Record<string, number[]> }[];
};

beforeAll(async () => {
  await initCompute({ backend: 'cpu' });
});

describe('cutout', () => {
  it("masks as OpenOOD's Cutout: centre uniform, side 2·⌊L/2⌋ clipped to the image, one mask per image", () => {
    const [n, h, w, L] = [50, 32, 32, 16];
    const masks = cutoutMasks(Rng.fromSeed(4), n, h, w, 1, L);
    const replay = Rng.fromSeed(4);
    const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
    let interior = 0;
    for (let i = 0; i < n; i++) {
      const y = replay.int(0, h - 1);
      const x = replay.int(0, w - 1);
      const area = (clip(y + 8, h) - clip(y - 8, h)) * (clip(x + 8, w) - clip(x - 8, w));
      const zeros = masks.subarray(i * h * w, (i + 1) * h * w).filter((v) => v === 0).length;
      expect(zeros).toBe(area);
      if (y >= 8 && y + 8 <= h && x >= 8 && x + 8 <= w) {
        interior++;
        expect(zeros).toBe(256); // L × L
        expect(masks[i * h * w + (y - 8) * w + (x - 8)]).toBe(0);
        expect(masks[i * h * w + (y + 7) * w + (x + 7)]).toBe(0);
        expect(masks[i * h * w + (y + 8 < h ? y + 8 : y - 9) * w + x]).toBe(1);
      }
    }
    expect(interior).toBeGreaterThan(5);
    // odd length: ⌊5/2⌋ = 2 each side → a 4 × 4 patch; no holes → no cut
    const odd = cutoutMasks(Rng.fromSeed(1), 1, 20, 20, 1, 5);
    expect(odd.filter((v) => v === 0).length).toBeLessThanOrEqual(16);
    expect(cutoutMasks(Rng.fromSeed(1), 2, 8, 8, 0, 4).every((v) => v === 1)).toBe(true);
  });

  it('the trainer loss is the cross-entropy of the masked batch (draws from its stream)', async () => {
    const trainer = await buildTrainer('cutout', { length: 2, n_holes: 2 }, 3);
    const net = new LinearClassifier(SHAPE, C, W0, B0);
    trainer.init(net, { epochs: 1, stepsPerEpoch: 1 });
    const batch = makeBatch(X, Y, SHAPE);
    const { loss } = await trainer.step(batch);
    const masks = cutoutMasks(trainerRng(3).derive('draws'), X.length, 4, 4, 2, 2);
    const expected = mean(
      X.map((x, i) =>
        ce(
          logitsOf(
            W0,
            B0,
            x.map((v, p) => v * masks[i * 16 + p]!),
          ),
          Y[i]!,
        ),
      ),
    );
    expect(loss).toBeCloseTo(expected, 5);
    expect(masks.some((v) => v === 0)).toBe(true);
    disposeBatch(batch);
    net.dispose();
  });
});

describe("torchvision's op spaces", () => {
  it('RandAugment (31 bins) and AugMix (10 bins) magnitude tables equal torchvision 0.14', () => {
    const check = (space: ReturnType<typeof randAugmentSpace>, ref: Record<string, [number[] | null, boolean]>) => {
      expect(space.map((o) => o.name)).toEqual(Object.keys(ref));
      for (const op of space) {
        const [mags, signed] = ref[op.name]!;
        expect(op.signed).toBe(signed);
        if (mags === null) expect(op.magnitudes).toBeNull();
        else expect(op.magnitudes).toEqual(mags);
      }
    };
    check(randAugmentSpace(31, 32, 32), fx.randaugment31);
    check(augMixSpace(32, 32, true), fx.augmix10);
    expect(augMixSpace(32, 32, false).map((o) => o.name)).toEqual(Object.keys(fx.augmix10).slice(0, 9));
  });

  it("every op equals torchvision's _apply_op on PIL images (bilinear, fill 0)", () => {
    let compared = 0;
    for (const c of fx.cases) {
      const img: Image8 = { data: Uint8Array.from(c.input), h: c.h, w: c.w, c: c.c };
      for (const [key, expected] of Object.entries(c.outputs)) {
        const [name, mag] = key.split(':') as [OpName, string];
        const out = applyOp(img, name, Number(mag));
        const diff = Array.from(out.data).map((v, i) => Math.abs(v - expected[i]!));
        expect(Math.max(...diff), `${key} on ${c.h}×${c.w}×${c.c}`).toBe(0);
        compared++;
      }
    }
    expect(compared).toBe(44);
  });
});

describe('randaugment', () => {
  it('N ops drawn uniformly from the 14, magnitude M, sign drawn only for signed ops; seeded', async () => {
    const img: Image8 = { data: Uint8Array.from(fx.cases[0]!.input), h: 9, w: 11, c: 3 };
    const opts = { n: 3, m: 14, numBins: 31 };
    const out = randAugmentImage(img, Rng.fromSeed(11), opts);
    const replay = Rng.fromSeed(11);
    const space = randAugmentSpace(31, 9, 11);
    let expected = img;
    for (let k = 0; k < 3; k++) {
      const op = space[replay.int(0, 13)]!;
      const sign = op.signed && replay.int(0, 1) === 1 ? -1 : 1;
      expected = applyOp(expected, op.name, sign * (op.magnitudes ? op.magnitudes[14]! : 0));
    }
    expect(Array.from(out.data)).toEqual(Array.from(expected.data));
    expect(Array.from(randAugmentImage(img, Rng.fromSeed(11), opts).data)).toEqual(Array.from(out.data));
    await expect(buildTrainer('randaugment', { m: 31 })).rejects.toThrow(/m must be < num_magnitude_bins/);
    const others = [1, 2, 3, 4, 5].map((s) => Array.from(randAugmentImage(img, Rng.fromSeed(s), opts).data).join());
    expect(new Set(others).size).toBeGreaterThan(1);
  });
});

describe('augmix', () => {
  it('JSD consistency on a hand-computed case', () => {
    const l3 = Math.log(3);
    // p_clean = (½, ½), p_aug1 = (¾, ¼), p_aug2 = (¼, ¾) → M = (½, ½)
    const kl = 0.75 * Math.log(1.5) + 0.25 * Math.log(0.5);
    const value = tf.tidy(() => jsdConsistency(tf.tensor2d([[0, 0]]), tf.tensor2d([[l3, 0]]), tf.tensor2d([[0, l3]])).dataSync()[0]!);
    expect(value).toBeCloseTo((0 + kl + kl) / 3, 6);
    // batchmean: the mean over rows; identical predictions → 0
    const two = tf.tidy(
      () =>
        jsdConsistency(
          tf.tensor2d([
            [0, 0],
            [1, 2],
          ]),
          tf.tensor2d([
            [l3, 0],
            [1, 2],
          ]),
          tf.tensor2d([
            [0, l3],
            [1, 2],
          ]),
        ).dataSync()[0]!,
    );
    expect(two).toBeCloseTo((2 * kl) / 3 / 2, 6);
  });

  it('severity picks from the first bins: at severity 1 every op is the identity on a flat image, so the mix is the image', () => {
    const flat: Image8 = { data: new Uint8Array(8 * 8).fill(128), h: 8, w: 8, c: 1 };
    const opts = { severity: 1, width: 3, depth: -1, alpha: 1, allOps: true };
    for (let s = 0; s < 10; s++) {
      // weights sum to 1; float32 rounding and truncation leave 127 or 128
      const out = augmixImage(flat, Rng.fromSeed(s), opts);
      expect(out.data.every((v) => v === 127 || v === 128)).toBe(true);
    }
    const severe = [0, 1, 2, 3, 4, 5].map((s) => augmixImage(flat, Rng.fromSeed(s), { ...opts, severity: 10 }));
    expect(severe.some((o) => o.data.some((v) => v < 120))).toBe(true); // translations / shears fill 0
    const a = augmixImage(flat, Rng.fromSeed(3), { ...opts, severity: 10 });
    expect(Array.from(augmixImage(flat, Rng.fromSeed(3), { ...opts, severity: 10 }).data)).toEqual(Array.from(a.data));
  });

  it('Dirichlet weights are a probability vector with mean α/(kα)', () => {
    const rng = Rng.fromSeed(2);
    const draws = Array.from({ length: 4000 }, () => sampleDirichlet(rng, 1, 3));
    for (const d of draws.slice(0, 10)) expect(d.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 12);
    expect(mean(draws.map((d) => d[0]!))).toBeCloseTo(1 / 3, 1);
  });

  it('the trainer: jsd loss = CE(clean) + λ·JSD with the clean view first; at λ 0 exactly the CE of the batch', async () => {
    const net = new LinearClassifier(SHAPE, C, W0, B0);
    const batch = makeBatch(X, Y, SHAPE);
    const ceClean = mean(X.map((x, i) => ce(logitsOf(W0, B0, x), Y[i]!)));
    const zero = await buildTrainer('augmix', { lam: 0, lr: 1e-9 }, 1);
    zero.init(net, { epochs: 1, stepsPerEpoch: 2 });
    expect((await zero.step(batch)).loss).toBeCloseTo(ceClean, 5);
    const full = await buildTrainer('augmix', { lr: 1e-9, severity: 5 }, 1);
    full.init(net, { epochs: 1, stepsPerEpoch: 2 });
    const before = tf.memory().numTensors;
    const { loss } = await full.step(batch);
    expect(loss).toBeGreaterThan(ceClean);
    expect(tf.memory().numTensors).toBe(before + 2); // the momentum buffers only
    const plain = await buildTrainer('augmix', { jsd: false }, 1);
    plain.init(net, { epochs: 1, stepsPerEpoch: 2 });
    expect(Number.isFinite((await plain.step(batch)).loss)).toBe(true);
    disposeBatch(batch);
    net.dispose();
  });
});
