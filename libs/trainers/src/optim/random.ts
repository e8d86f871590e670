import type { Rng } from '@oodkit/core';

/** Gamma(shape, 1) by Marsaglia–Tsang (shape < 1 via the boost Gamma(a+1)·U^(1/a)). */
export function sampleGamma(rng: Rng, shape: number): number {
  if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = rng.uniform();
    return sampleGamma(rng, shape + 1) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.uniform();
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) = X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b) (numpy.random.beta's distribution). */
export function sampleBeta(rng: Rng, a: number, b: number): number {
  const x = sampleGamma(rng, a);
  const y = sampleGamma(rng, b);
  return x + y === 0 ? (rng.uniform() < a / (a + b) ? 1 : 0) : x / (x + y);
}

/** A box in pixel coordinates: rows [r1, r2), columns [c1, c2). */
export interface Box {
  readonly r1: number;
  readonly r2: number;
  readonly c1: number;
  readonly c2: number;
}

/**
 * CutMix's rand_bbox (as OpenOOD): side ratio √(1−λ), centre uniform over the image, clipped to
 * the image; the returned λ is re-derived from the clipped area.
 */
export function randomBox(rng: Rng, height: number, width: number, lam: number): { box: Box; lam: number } {
  const ratio = Math.sqrt(1 - lam);
  const cutH = Math.floor(height * ratio);
  const cutW = Math.floor(width * ratio);
  const cr = rng.int(0, height - 1);
  const cc = rng.int(0, width - 1);
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const box = {
    r1: clip(cr - Math.floor(cutH / 2), height),
    r2: clip(cr + Math.floor(cutH / 2), height),
    c1: clip(cc - Math.floor(cutW / 2), width),
    c2: clip(cc + Math.floor(cutW / 2), width),
  };
  return { box, lam: 1 - ((box.r2 - box.r1) * (box.c2 - box.c1)) / (height * width) };
}
