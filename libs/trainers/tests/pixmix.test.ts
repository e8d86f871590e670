import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initCompute, tf } from '@oodkit/compute';
import { Rng, createOodkitContainer, registryOf, silentLogger, type Classifier, type Trainer } from '@oodkit/core';
import { dataModule } from '@oodkit/data';
import { networksModule } from '@oodkit/networks';
import * as ops from '../src/augment/pil-ops.js';
import type { Image8 } from '../src/augment/pil-ops.js';
import { trainersModule } from '../src/index.js';
import { mixAdd, mixMultiply, mixingCoefficients, pixmixImage, type PixmixTrainer } from '../src/trainers/pixmix.js';

// Pillow 9 outputs from libs/trainers/tools/pixmix_reference.py.
const fx = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'pixmix-reference.json'), 'utf8')) as {
  cases: { h: number; w: number; c: number; input: number[]; outputs: Record<string, number[]> }[];
  x1: number[];
  x2: number[];
  mix: { a: number; b: number; add: number[]; multiply: number[] }[];
};

const apply: Record<string, (img: Image8) => Image8> = {
  autocontrast: ops.autocontrast,
  equalize: ops.equalize,
  posterize3: (i) => ops.posterize(i, 3),
  solarize180: (i) => ops.solarize(i, 180),
  rotate17: (i) => ops.rotate(i, 17),
  'rotate-29': (i) => ops.rotate(i, -29),
  'shear_x0.21': (i) => ops.affine(i, [1, 0.21, 0, 0, 1, 0]),
  'shear_y-0.13': (i) => ops.affine(i, [1, 0, 0, -0.13, 1, 0]),
  translate_x3: (i) => ops.affine(i, [1, 0, 3, 0, 1, 0]),
  'translate_y-2': (i) => ops.affine(i, [1, 0, 0, 0, 1, -2]),
  'color0.37': (i) => ops.color(i, 0.37),
  'contrast0.52': (i) => ops.contrast(i, 0.52),
  'brightness0.21': (i) => ops.brightness(i, 0.21),
  'sharpness0.44': (i) => ops.sharpness(i, 0.44),
};

describe('PixMix base operations equal Pillow', () => {
  for (const name of Object.keys(apply)) {
    it(name, () => {
      for (const k of fx.cases) {
        const out = apply[name]!({ data: Uint8Array.from(k.input), h: k.h, w: k.w, c: k.c });
        const expected = k.outputs[name]!;
        const off = expected.map((v, i) => Math.abs(v - out.data[i]!)).filter((d) => d > 0);
        expect(off, `${k.h}×${k.w}×${k.c}: ${off.length} pixels differ, max ${Math.max(0, ...off)}`).toEqual([]);
      }
    });
  }
});

describe('PixMix mixing', () => {
  it('add and multiply equal the reference formulas (float32) on fixed coefficients', () => {
    const x1 = Float32Array.from(fx.x1);
    const x2 = Float32Array.from(fx.x2);
    for (const m of fx.mix) {
      const add = mixAdd(x1, x2, Math.fround(m.a), Math.fround(m.b));
      const mul = mixMultiply(x1, x2, Math.fround(m.a), Math.fround(m.b));
      m.add.forEach((v, i) => expect(add[i]).toBeCloseTo(v, 6));
      m.multiply.forEach((v, i) => expect(mul[i]).toBeCloseTo(v, 5));
    }
  });

  it('coefficients: (Beta(β,1), Beta(1,β)) or (1 + Beta(1,β), −Beta(1,β)) with probability ½ each', () => {
    const rng = Rng.fromSeed(3);
    const beta = 3;
    let first = 0;
    const sums = { a1: 0, b1: 0, a2: 0, b2: 0 };
    const n = 8000;
    for (let i = 0; i < n; i++) {
      const [a, b] = mixingCoefficients(rng, beta);
      if (b >= 0) {
        first++;
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThanOrEqual(1);
        sums.a1 += a;
        sums.b1 += b;
      } else {
        expect(a).toBeGreaterThanOrEqual(1);
        sums.a2 += a;
        sums.b2 += b;
      }
    }
    const second = n - first;
    expect(first / n).toBeCloseTo(0.5, 1);
    // E Beta(3, 1) = 3/4, E Beta(1, 3) = 1/4
    expect(Math.abs(sums.a1 / first - 0.75)).toBeLessThan(0.01);
    expect(Math.abs(sums.b1 / first - 0.25)).toBeLessThan(0.01);
    expect(Math.abs(sums.a2 / second - 1.25)).toBeLessThan(0.01);
    expect(Math.abs(sums.b2 / second + 0.25)).toBeLessThan(0.01);
  });

  it('k = 0 gives the image or one augmentation of it; any k stays in [0, 1]; same stream → same image', () => {
    const k = fx.cases[2]!;
    const orig = { data: Uint8Array.from(k.input), h: k.h, w: k.w, c: k.c };
    const pic = { data: Uint8Array.from(k.input).reverse(), h: k.h, w: k.w, c: k.c };
    const options = { k: 0, beta: 3, severity: 3, allOps: true };
    let unchanged = 0;
    for (let s = 0; s < 40; s++) {
      const out = pixmixImage(orig, pic, Rng.fromSeed(0).derive(`image-${s}`), options);
      if (out.every((v, i) => v === Math.fround(orig.data[i]! / 255))) unchanged++;
    }
    expect(unchanged).toBeGreaterThan(8); // ~half keep the original (some augmentations are identities too)
    expect(unchanged).toBeLessThan(36);
    for (let s = 0; s < 20; s++) {
      const out = pixmixImage(orig, pic, Rng.fromSeed(s), { ...options, k: 4 });
      expect(out.every((v) => v >= 0 && v <= 1)).toBe(true);
      expect(Array.from(pixmixImage(orig, pic, Rng.fromSeed(s), { ...options, k: 4 }))).toEqual(Array.from(out));
    }
  });
});

describe('pixmix trainer', () => {
  it('mixes the denormalised batch with the default fractal set and trains lenet; draws are seeded', async () => {
    await initCompute({ backend: 'wasm' });
    const registry = registryOf(createOodkitContainer([dataModule, networksModule, trainersModule]));
    const ctx = (stream: string) => ({ logger: silentLogger, rng: Rng.fromSeed(0).derive(stream), config: { benchmark: 'mnist' } });
    const net = await registry.build<Classifier>('network', 'lenet', ctx('network'));
    const make = async () =>
      (await registry.build<Trainer>('trainer', { name: 'pixmix', args: { mixing_count: 50 } }, ctx('trainer'))) as PixmixTrainer;
    const trainer = await make();
    const n = 4;
    // images in [−1, 1] as the benchmark's normalize (mean 0.5, std 0.5) leaves them
    const x = tf.tidy(() =>
      tf.sub(tf.mul(tf.round(tf.mul(tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', 5), 255)), 2 / 255), 1),
    ) as tf.Tensor4D;
    const mixed = await trainer.mixBatch(x);
    expect(mixed.every((v) => v >= -1 - 1e-6 && v <= 1 + 1e-6)).toBe(true);
    expect(Array.from(mixed)).not.toEqual(Array.from(x.dataSync()));
    expect(Array.from(await (await make()).mixBatch(x))).toEqual(Array.from(mixed));
    trainer.init(net, { epochs: 1, stepsPerEpoch: 3 });
    const y = tf.tensor1d(
      Int32Array.from({ length: n }, (_, i) => i % 10),
      'int32',
    );
    const before = tf.memory().numTensors;
    for (let s = 0; s < 2; s++) expect(Number.isFinite((await trainer.step({ x, y, indices: new Int32Array(n) })).loss)).toBe(true);
    expect(tf.memory().numTensors).toBe(before + 10); // the 10 momentum buffers of LeNet's parameters, nothing else
    tf.dispose([x, y]);
    net.dispose();
  });
});
