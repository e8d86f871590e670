import type { PixelRng } from './prng.js';

/** One contractive affine map of an iterated function system: p ↦ A·p + t, drawn with probability ∝ |det A|. */
interface AffineMap {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
  readonly e: number;
  readonly f: number;
  readonly color: readonly [number, number, number];
}

/**
 * A random IFS fractal (Barnsley's chaos game), the kind of image PixMix mixes with: 2–4 affine maps
 * whose linear parts have singular values in [0.25, 0.9] (so the system contracts to an attractor), the
 * attractor rendered as a log-density image and scaled to a 255 peak. For 3 channels every map carries
 * a colour and a pixel takes the mean colour of the points that fell on it. Image = f(rng) only.
 */
export function drawFractal(rng: PixelRng, h: number, w: number, c: number, out: Uint8Array, points = 20_000): void {
  const maps: AffineMap[] = [];
  const count = rng.int(2, 4);
  for (let k = 0; k < count; k++) {
    // A = R(θ)·diag(s1, s2)·R(φ), a random rotation–scaling–rotation with contracting singular values
    const s1 = rng.range(0.25, 0.9);
    const s2 = rng.range(0.25, 0.9) * (rng.uniform() < 0.5 ? -1 : 1);
    const th = rng.range(0, 2 * Math.PI);
    const ph = rng.range(0, 2 * Math.PI);
    const [ct, st, cp, sp] = [Math.cos(th), Math.sin(th), Math.cos(ph), Math.sin(ph)];
    maps.push({
      a: ct * s1 * cp - st * s2 * sp,
      b: -ct * s1 * sp - st * s2 * cp,
      c: st * s1 * cp + ct * s2 * sp,
      d: -st * s1 * sp + ct * s2 * cp,
      e: rng.range(-1, 1),
      f: rng.range(-1, 1),
      color: [rng.uniform(), rng.uniform(), rng.uniform()],
    });
  }
  const weights = maps.map((m) => Math.abs(m.a * m.d - m.b * m.c) + 1e-3);
  const total = weights.reduce((s, v) => s + v, 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const v of weights) cumulative.push((acc += v / total));
  const xs = new Float64Array(points);
  const ys = new Float64Array(points);
  const which = new Uint8Array(points);
  let x = 0;
  let y = 0;
  for (let i = -20; i < points; i++) {
    const u = rng.uniform();
    let k = 0;
    while (k < count - 1 && u >= cumulative[k]!) k++;
    const m = maps[k]!;
    [x, y] = [m.a * x + m.b * y + m.e, m.c * x + m.d * y + m.f];
    if (i >= 0) {
      xs[i] = x;
      ys[i] = y;
      which[i] = k;
    }
  }
  // fit the attractor's bounding box into the image with a 1-pixel margin, aspect ratio kept
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < points; i++) {
    x0 = Math.min(x0, xs[i]!);
    x1 = Math.max(x1, xs[i]!);
    y0 = Math.min(y0, ys[i]!);
    y1 = Math.max(y1, ys[i]!);
  }
  const scale = Math.min((w - 3) / Math.max(x1 - x0, 1e-9), (h - 3) / Math.max(y1 - y0, 1e-9));
  const ox = (w - 1 - (x1 - x0) * scale) / 2;
  const oy = (h - 1 - (y1 - y0) * scale) / 2;
  const density = new Float64Array(h * w);
  const colour = new Float64Array(h * w * 3);
  for (let i = 0; i < points; i++) {
    const px = Math.round(ox + (xs[i]! - x0) * scale);
    const py = Math.round(oy + (ys[i]! - y0) * scale);
    const p = py * w + px;
    density[p]!++;
    const col = maps[which[i]!]!.color;
    for (let ch = 0; ch < 3; ch++) colour[p * 3 + ch]! += col[ch]!;
  }
  let peak = 0;
  for (let p = 0; p < h * w; p++) peak = Math.max(peak, Math.log1p(density[p]!));
  for (let p = 0; p < h * w; p++) {
    const v = peak > 0 ? Math.log1p(density[p]!) / peak : 0;
    if (c === 1) out[p] = Math.round(255 * v);
    else {
      for (let ch = 0; ch < c; ch++) {
        const tint = density[p]! > 0 ? colour[p * 3 + (ch % 3)]! / density[p]! : 0;
        out[p * c + ch] = Math.round(255 * v * (0.35 + 0.65 * tint));
      }
    }
  }
}
