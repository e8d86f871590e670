// Pillow's image operations that OpenOOD's test transform goes through, as pure functions on
// uint8 HWC arrays: Image.convert('RGB' | 'L') and Image.resize(..., BILINEAR) for 8-bit images, the
// latter with Pillow's separable, antialiased convolution and its 22-bit fixed-point rounding
// (src/libImaging/Resample.c), so results equal Pillow's byte for byte. Plain CommonJS so the
// decode workers (worker_threads, no TypeScript loader) can use it too.
'use strict';

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

/** Pillow's bilinear (triangle) filter, support 1. */
function triangle(x) {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

/**
 * Per output position: the first input index, the number of taps, and the fixed-point weights —
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize). Downscaling widens
 * the filter by the scale (antialiasing); upscaling keeps support 1.
 */
function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 1 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const ss = 1 / filterscale;
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) truncates toward zero
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = triangle((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x] / ww : k[x];
      weights[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

/** Pillow's clip8: the 22-bit fixed-point sum (rounding offset included) → 0..255. */
function clip8(ss) {
  const v = Math.floor(ss / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Image.resize((ow, oh), Image.BILINEAR) of an 8-bit image with c interleaved channels: a horizontal
 * pass over the rows the vertical pass needs, then a vertical pass, each rounded to 8 bits, and a pass
 * skipped when its size is unchanged (an equal-size resize is the identity).
 */
function resizeBilinear(src, w, h, c, ow, oh) {
  if (ow === w && oh === h) return src;
  const horiz = coefficients(w, ow);
  const vert = coefficients(h, oh);
  const needH = ow !== w;
  const needV = oh !== h;
  let img = src;
  let iw = w;

  let rowOffset = 0;
  if (needH) {
    const first = vert.bounds[0];
    const last = vert.bounds[(oh - 1) * 2] + vert.bounds[(oh - 1) * 2 + 1];
    rowOffset = first;
    const rows = last - first;
    const out = new Uint8Array(rows * ow * c);
    const { ksize, bounds, weights } = horiz;
    for (let y = 0; y < rows; y++) {
      const line = (y + first) * w * c;
      for (let xx = 0; xx < ow; xx++) {
        const xmin = bounds[xx * 2];
        const xmax = bounds[xx * 2 + 1];
        const kk = xx * ksize;
        for (let ch = 0; ch < c; ch++) {
          let ss = HALF;
          for (let x = 0; x < xmax; x++) ss += src[line + (x + xmin) * c + ch] * weights[kk + x];
          out[(y * ow + xx) * c + ch] = clip8(ss);
        }
      }
    }
    img = out;
    iw = ow;
  }
  if (!needV) return img;
  const out = new Uint8Array(oh * iw * c);
  const { ksize, bounds, weights } = vert;
  for (let yy = 0; yy < oh; yy++) {
    const ymin = bounds[yy * 2] - rowOffset;
    const ymax = bounds[yy * 2 + 1];
    const kk = yy * ksize;
    for (let xx = 0; xx < iw; xx++) {
      for (let ch = 0; ch < c; ch++) {
        let ss = HALF;
        for (let y = 0; y < ymax; y++) ss += img[((y + ymin) * iw + xx) * c + ch] * weights[kk + y];
        out[(yy * iw + xx) * c + ch] = clip8(ss);
      }
    }
  }
  return out;
}

/**
 * Image.convert('RGB') from the bands a decoder gives: 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA). Pillow
 * replicates L and drops alpha without compositing (a transparent pixel keeps its colour).
 */
function toRgb(src, pixels, bands) {
  if (bands === 3) return src;
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    if (bands <= 2) {
      const v = src[p * bands];
      out[3 * p] = v;
      out[3 * p + 1] = v;
      out[3 * p + 2] = v;
    } else {
      out[3 * p] = src[p * bands];
      out[3 * p + 1] = src[p * bands + 1];
      out[3 * p + 2] = src[p * bands + 2];
    }
  }
  return out;
}

/** Image.convert('L'): ITU-R 601-2 luma in Pillow's fixed point, L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. */
function toL(src, pixels, bands) {
  if (bands === 1) return src;
  const out = new Uint8Array(pixels);
  for (let p = 0; p < pixels; p++) {
    if (bands === 2) out[p] = src[p * 2];
    else out[p] = (src[p * bands] * 19595 + src[p * bands + 1] * 38470 + src[p * bands + 2] * 7471 + 0x8000) >>> 16;
  }
  return out;
}

/**
 * 16-bit samples to the 8 bits Pillow ends up with: a 16-bit greyscale PNG opens as mode 'I' and
 * convert() clips it at 255; 16-bit LA/RGB/RGBA PNGs unpack to their high byte.
 */
function from16Bit(src16, bands) {
  const out = new Uint8Array(src16.length);
  if (bands === 1) for (let i = 0; i < src16.length; i++) out[i] = src16[i] > 255 ? 255 : src16[i];
  else for (let i = 0; i < src16.length; i++) out[i] = src16[i] >>> 8;
  return out;
}

module.exports = { coefficients, resizeBilinear, toRgb, toL, from16Bit };
