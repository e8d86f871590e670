import { PixelRng } from './prng.js';

export const PATTERN_KINDS = ['gaussian', 'uniform', 'stripes', 'checkerboard', 'perlin', 'blobs'] as const;
export type PatternKind = (typeof PATTERN_KINDS)[number];

const clampByte = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/**
 * Fills `out` (one H×W×C uint8 image) with a sample of `kind`. Noise is i.i.d. per pixel and
 * channel; textures compute an intensity field f ∈ [0, 1] at digit scale (features of 2–8 px on
 * 28×28) and map it between two random per-channel levels, so colour images get coloured textures.
 */
export function drawPattern(kind: PatternKind, rng: PixelRng, h: number, w: number, c: number, out: Uint8Array): void {
  if (kind === 'gaussian') {
    // N(0.5, 0.25) in [0,1] units, clipped: mostly mid-grey with full-range outliers
    for (let i = 0; i < out.length; i++) out[i] = clampByte(255 * (0.5 + 0.25 * rng.normal()));
    return;
  }
  if (kind === 'uniform') {
    for (let i = 0; i < out.length; i++) out[i] = rng.next() & 0xff;
    return;
  }
  const field = new Float32Array(h * w);
  if (kind === 'stripes') stripes(rng, h, w, field);
  else if (kind === 'checkerboard') checkerboard(rng, h, w, field);
  else if (kind === 'perlin') valueNoise(rng, h, w, field);
  else blobs(rng, h, w, field);
  const lo: number[] = [];
  const hi: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    const a = rng.range(0, 0.35);
    const b = rng.range(0.65, 1);
    // either polarity: bright pattern on dark, or dark on bright
    const flip = rng.uniform() < 0.5;
    lo.push(255 * (flip ? b : a));
    hi.push(255 * (flip ? a : b));
  }
  for (let p = 0; p < h * w; p++) {
    for (let ch = 0; ch < c; ch++) out[p * c + ch] = clampByte(lo[ch] + (hi[ch] - lo[ch]) * field[p]);
  }
}

function stripes(rng: PixelRng, h: number, w: number, field: Float32Array): void {
  const theta = rng.range(0, Math.PI);
  const period = rng.range(3, 8);
  const phase = rng.range(0, 2 * Math.PI);
  const square = rng.uniform() < 0.5;
  const cx = Math.cos(theta);
  const sy = Math.sin(theta);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = Math.sin((2 * Math.PI * (x * cx + y * sy)) / period + phase);
      field[y * w + x] = square ? (s > 0 ? 1 : 0) : 0.5 + 0.5 * s;
    }
  }
}

function checkerboard(rng: PixelRng, h: number, w: number, field: Float32Array): void {
  const cell = rng.int(2, 7);
  const ox = rng.int(0, cell - 1);
  const oy = rng.int(0, cell - 1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) field[y * w + x] = (Math.floor((x + ox) / cell) + Math.floor((y + oy) / cell)) % 2;
  }
}

const smooth = (t: number) => t * t * t * (t * (t * 6 - 15) + 10);

/** Value noise ("Perlin-like"): random lattice values, quintic interpolation, two octaves. */
function valueNoise(rng: PixelRng, h: number, w: number, field: Float32Array): void {
  const octaves: [number, number][] = [
    [rng.range(5, 9), 0.7],
    [rng.range(2, 4), 0.3],
  ];
  field.fill(0);
  for (const [spacing, weight] of octaves) {
    const gw = Math.ceil(w / spacing) + 2;
    const gh = Math.ceil(h / spacing) + 2;
    const lattice = new Float32Array(gw * gh);
    for (let i = 0; i < lattice.length; i++) lattice[i] = rng.uniform();
    for (let y = 0; y < h; y++) {
      const gy = y / spacing;
      const y0 = Math.floor(gy);
      const ty = smooth(gy - y0);
      for (let x = 0; x < w; x++) {
        const gx = x / spacing;
        const x0 = Math.floor(gx);
        const tx = smooth(gx - x0);
        const a = lattice[y0 * gw + x0] + (lattice[y0 * gw + x0 + 1] - lattice[y0 * gw + x0]) * tx;
        const b = lattice[(y0 + 1) * gw + x0] + (lattice[(y0 + 1) * gw + x0 + 1] - lattice[(y0 + 1) * gw + x0]) * tx;
        field[y * w + x] += weight * (a + (b - a) * ty);
      }
    }
  }
  stretch(field);
}

/** A few Gaussian blobs; used only as the OOD validation family, never in a test split. */
function blobs(rng: PixelRng, h: number, w: number, field: Float32Array): void {
  const n = rng.int(2, 5);
  field.fill(0);
  for (let k = 0; k < n; k++) {
    const cx = rng.range(0, w);
    const cy = rng.range(0, h);
    const r = rng.range(1.5, Math.max(2, Math.min(h, w) / 5));
    const a = rng.range(0.5, 1);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) field[y * w + x] += a * Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r));
    }
  }
  for (let i = 0; i < field.length; i++) field[i] = Math.min(1, field[i]);
}

function stretch(field: Float32Array): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of field) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo || 1;
  for (let i = 0; i < field.length; i++) field[i] = (field[i] - lo) / span;
}
