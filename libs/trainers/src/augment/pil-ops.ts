/**
 * The AugMix / PixMix base operations on uint8 HWC images, with Pillow 9's semantics (the reference
 * runs them on PIL images): per-band look-up tables (autocontrast, equalize, posterize, solarize),
 * affine resampling with bilinear interpolation and zero fill (rotate, shear, translate), and
 * ImageEnhance blends (color, contrast, brightness, sharpness), all truncating to uint8 as PIL does.
 * Checked against Pillow by libs/trainers/tools/pixmix_reference.py.
 */
export interface Image8 {
  readonly data: Uint8Array;
  readonly h: number;
  readonly w: number;
  readonly c: number;
}

function mapBands(img: Image8, lutFor: (band: Uint32Array) => Uint8Array | null): Image8 {
  const { data, h, w, c } = img;
  const out = new Uint8Array(data.length);
  for (let ch = 0; ch < c; ch++) {
    const hist = new Uint32Array(256);
    for (let p = ch; p < data.length; p += c) hist[data[p]!]!++;
    const lut = lutFor(hist);
    for (let p = ch; p < data.length; p += c) out[p] = lut ? lut[data[p]!]! : data[p]!;
  }
  return { data: out, h, w, c };
}

function lut(fn: (i: number) => number): Uint8Array {
  return Uint8Array.from({ length: 256 }, (_, i) => Math.min(255, Math.max(0, fn(i))));
}

/** ImageOps.autocontrast (cutoff 0): each band stretched so its darkest value is 0 and brightest 255. */
export function autocontrast(img: Image8): Image8 {
  return mapBands(img, (hist) => {
    let lo = 0;
    while (lo < 256 && hist[lo] === 0) lo++;
    let hi = 255;
    while (hi >= 0 && hist[hi] === 0) hi--;
    if (hi <= lo) return null;
    const scale = 255 / (hi - lo);
    const offset = -lo * scale;
    return lut((i) => Math.trunc(i * scale + offset));
  });
}

/** ImageOps.equalize: per band, Pillow's cumulative-histogram table with step (total − last bin) // 255. */
export function equalize(img: Image8): Image8 {
  return mapBands(img, (hist) => {
    const nonzero = [...hist].filter((v) => v > 0);
    if (nonzero.length <= 1) return null;
    const step = Math.floor((nonzero.reduce((a, b) => a + b, 0) - nonzero[nonzero.length - 1]!) / 255);
    if (step === 0) return null;
    let n = Math.floor(step / 2);
    const table = new Uint8Array(256);
    for (let i = 0; i < 256; i++) {
      table[i] = Math.min(255, Math.floor(n / step));
      n += hist[i]!;
    }
    return table;
  });
}

/** ImageOps.posterize: keep the top `bits` bits of every value. */
export function posterize(img: Image8, bits: number): Image8 {
  const mask = ~(2 ** (8 - bits) - 1) & 0xff;
  return mapBands(img, () => lut((i) => i & mask));
}

/** ImageOps.solarize: values ≥ threshold are inverted. */
export function solarize(img: Image8, threshold: number): Image8 {
  return mapBands(img, () => lut((i) => (i < threshold ? i : 255 - i)));
}

/**
 * Image.transform(AFFINE, (a, b, c, d, e, f), BILINEAR) with fill 0: output pixel (x, y) samples the
 * input at (a·(x+½) + b·(y+½) + c, d·(x+½) + e·(y+½) + f); a point outside the image is fill, a point
 * inside interpolates between pixel centres with coordinates clamped to the border (Pillow's
 * bilinear_filter), and the result is truncated to uint8.
 */
export function affine(img: Image8, m: readonly [number, number, number, number, number, number]): Image8 {
  const { data, h, w, c } = img;
  const out = new Uint8Array(data.length);
  const [a, b, cc, d, e, f] = m;
  const clampX = (v: number) => (v < 0 ? 0 : v >= w ? w - 1 : v);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let xin = a * (x + 0.5) + b * (y + 0.5) + cc;
      let yin = d * (x + 0.5) + e * (y + 0.5) + f;
      if (xin < 0 || xin >= w || yin < 0 || yin >= h) continue;
      xin -= 0.5;
      yin -= 0.5;
      const x0 = Math.floor(xin);
      const y0 = Math.floor(yin);
      const dx = xin - x0;
      const dy = yin - y0;
      const yTop = y0 < 0 ? 0 : y0 >= h ? h - 1 : y0;
      const hasBelow = y0 + 1 >= 0 && y0 + 1 < h;
      const xa = clampX(x0);
      const xb = clampX(x0 + 1);
      for (let ch = 0; ch < c; ch++) {
        const row = (yy: number) => {
          const p = data[(yy * w + xa) * c + ch]!;
          return p + (data[(yy * w + xb) * c + ch]! - p) * dx;
        };
        const v1 = row(yTop);
        const v2 = hasBelow ? row(y0 + 1) : v1;
        out[(y * w + x) * c + ch] = Math.trunc(v1 + (v2 - v1) * dy);
      }
    }
  }
  return { data: out, h, w, c };
}

/** Image.rotate(degrees, BILINEAR) about the centre, same size, fill 0 (Pillow's inverse matrix, 15-digit rounding). */
export function rotate(img: Image8, degrees: number): Image8 {
  const angle = -((((degrees % 360) + 360) % 360) * Math.PI) / 180;
  const r = (v: number) => Math.round(v * 1e15) / 1e15;
  const [a, b, d, e] = [r(Math.cos(angle)), r(Math.sin(angle)), r(-Math.sin(angle)), r(Math.cos(angle))];
  const [cx, cy] = [img.w / 2, img.h / 2];
  const c = a * -cx + b * -cy + cx;
  const f = d * -cx + e * -cy + cy;
  return affine(img, [a, b, c, d, e, f]);
}

/** Image.blend(degenerate, img, factor) for 0 ≤ factor ≤ 1 (ImageEnhance): d + factor·(x − d), truncated. */
function blend(degenerate: Uint8Array, img: Image8, factor: number): Image8 {
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Math.trunc(Math.fround(degenerate[i]! + Math.fround(factor) * (img.data[i]! - degenerate[i]!)));
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { data: out, h: img.h, w: img.w, c: img.c };
}

/** ITU-R 601-2 luma as Pillow's RGB→L (fixed-point, rounded): L = (R·19595 + G·38470 + B·7471 + 0x8000) >> 16. */
function luma(img: Image8): Uint8Array {
  const { data, c } = img;
  const n = data.length / c;
  const out = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    out[p] = c === 1 ? data[p]! : (data[p * c]! * 19595 + data[p * c + 1]! * 38470 + data[p * c + 2]! * 7471 + 0x8000) >> 16;
  }
  return out;
}

/** ImageEnhance.Color: blend with the image's gray version (identity on gray images). */
export function color(img: Image8, factor: number): Image8 {
  if (img.c === 1) return img;
  const gray = luma(img);
  const degenerate = new Uint8Array(img.data.length);
  for (let p = 0; p < gray.length; p++) for (let ch = 0; ch < img.c; ch++) degenerate[p * img.c + ch] = gray[p]!;
  return blend(degenerate, img, factor);
}

/** ImageEnhance.Contrast: blend with a flat image at the (rounded) mean luma. */
export function contrast(img: Image8, factor: number): Image8 {
  const gray = luma(img);
  const mean = Math.trunc(gray.reduce((s, v) => s + v, 0) / gray.length + 0.5);
  return blend(new Uint8Array(img.data.length).fill(mean), img, factor);
}

/** ImageEnhance.Brightness: blend with black. */
export function brightness(img: Image8, factor: number): Image8 {
  return blend(new Uint8Array(img.data.length), img, factor);
}

/**
 * ImageEnhance.Sharpness: blend with ImageFilter.SMOOTH (3×3 kernel [1 1 1; 1 5 1; 1 1 1]/13, border
 * pixels copied, the weighted sum rounded: Pillow adds 0.5 before truncating).
 */
export function sharpness(img: Image8, factor: number): Image8 {
  const { data, h, w, c } = img;
  const smooth = Uint8Array.from(data);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) s += data[((y + dy) * w + x + dx) * c + ch]! * (dx === 0 && dy === 0 ? 5 : 1);
        const v = Math.trunc(Math.fround(Math.fround(s / 13) + 0.5));
        smooth[(y * w + x) * c + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return blend(smooth, img, factor);
}
