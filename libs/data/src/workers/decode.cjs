// Image decoding shared by the in-process path and the worker_threads pool. Plain CommonJS so a
// worker can load it in any runtime (node, tsx, vitest) without a TypeScript loader.
'use strict';
const sharp = require('sharp');
const pil = require('../preprocessors/pil.cjs');

/** Python's round (half to even), which torchvision's center_crop uses for the offsets. */
function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision Resize(int): the shorter side becomes `size`, the longer one is scaled and truncated. */
function shorterSideSize(w, h, size) {
  return w <= h ? [size, Math.trunc((size * h) / w)] : [Math.trunc((size * w) / h), size];
}

function failure(message) {
  const error = new Error(message);
  error.code = 'OODKIT_DECODE';
  return error;
}

/**
 * Decodes one image file to uint8 HWC of `shape` ([h, w, c]). With `imageSize`: Resize(preSize ??
 * imageSize) on the shorter side, then CenterCrop(imageSize) (OpenOOD's test transform). Errors carry
 * code OODKIT_DECODE and a message without the file's name (the caller knows the list line).
 */
async function decodeImage(path, options, shape) {
  if (options.resize === 'pil') return decodeAsPil(path, options, shape);
  const [h, w, c] = shape;
  let pipeline = sharp(path, { failOn: 'error' });
  try {
    if (options.imageSize !== undefined) {
      const meta = await pipeline.metadata();
      const [rw, rh] = shorterSideSize(meta.width, meta.height, options.preSize ?? options.imageSize);
      if (rh < h || rw < w) throw failure(`resized to ${rw}×${rh}, smaller than the ${w}×${h} crop (pre_size must be ≥ image_size)`);
      if (rw !== meta.width || rh !== meta.height) pipeline = pipeline.resize(rw, rh, { fit: 'fill', kernel: 'linear' });
      if (rh !== h || rw !== w)
        pipeline = pipeline.extract({ left: roundHalfEven((rw - w) / 2), top: roundHalfEven((rh - h) / 2), width: w, height: h });
    }
    pipeline = c === 3 ? pipeline.removeAlpha().toColourspace('srgb') : pipeline.grayscale();
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.width !== w || info.height !== h) {
      throw failure(`image is ${info.width}×${info.height}, the dataset's images are ${w}×${h}; set image_size to resize at decode`);
    }
    if (info.channels === c) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    // grayscale() can leave an alpha band: keep the first c channels
    const out = new Uint8Array(h * w * c);
    for (let p = 0; p < h * w; p++)
      for (let ch = 0; ch < c; ch++) out[p * c + ch] = data[p * info.channels + Math.min(ch, info.channels - 1)];
    return out;
  } catch (error) {
    if (error && error.code === 'OODKIT_DECODE') throw error;
    throw failure(`cannot decode image (${error instanceof Error ? error.message : String(error)})`);
  }
}

/**
 * OpenOOD's test transform as torchvision runs it on PIL images: the file's own bands decoded by
 * libvips without conversion (8-bit; 16-bit samples reduced as Pillow reduces them), Convert('RGB')
 * (or 'L' for 1 channel), Resize(pre_size) of the shorter side with Pillow's bilinear filter and
 * fixed-point rounding, CenterCrop(image_size). Pixel for pixel what Pillow gives (docs/decisions.md).
 */
async function decodeAsPil(path, options, shape) {
  const [h, w, c] = shape;
  try {
    const meta = await sharp(path, { failOn: 'error' }).metadata();
    const deep = meta.depth === 'ushort';
    const grey = meta.channels <= 2 && !meta.isPalette;
    const space = grey ? (deep ? 'grey16' : 'b-w') : deep ? 'rgb16' : 'srgb';
    const { data, info } = await sharp(path, { failOn: 'error' })
      .toColourspace(space)
      .raw(deep ? { depth: 'ushort' } : {})
      .toBuffer({ resolveWithObject: true });
    const bands = info.channels;
    const raw = deep
      ? pil.from16Bit(new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2), bands)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const pixels = info.width * info.height;
    let img = c === 3 ? pil.toRgb(raw, pixels, bands) : pil.toL(raw, pixels, bands);
    let [iw, ih] = [info.width, info.height];
    if (options.imageSize !== undefined) {
      const [rw, rh] = shorterSideSize(iw, ih, options.preSize ?? options.imageSize);
      if (rh < h || rw < w) throw failure(`resized to ${rw}×${rh}, smaller than the ${w}×${h} crop (pre_size must be ≥ image_size)`);
      img = pil.resizeBilinear(img, iw, ih, c, rw, rh);
      [iw, ih] = [rw, rh];
      if (rh !== h || rw !== w) {
        const top = roundHalfEven((rh - h) / 2);
        const left = roundHalfEven((rw - w) / 2);
        const out = new Uint8Array(h * w * c);
        for (let y = 0; y < h; y++) out.set(img.subarray(((top + y) * iw + left) * c, ((top + y) * iw + left + w) * c), y * w * c);
        return out;
      }
    }
    if (iw !== w || ih !== h) {
      throw failure(`image is ${iw}×${ih}, the dataset's images are ${w}×${h}; set image_size to resize at decode`);
    }
    return img;
  } catch (error) {
    if (error && error.code === 'OODKIT_DECODE') throw error;
    throw failure(`cannot decode image (${error instanceof Error ? error.message : String(error)})`);
  }
}

module.exports = { roundHalfEven, shorterSideSize, decodeImage };
