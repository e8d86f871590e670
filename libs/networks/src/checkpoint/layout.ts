import type { TorchLayout } from '../layers/params.js';

/**
 * Element order conversions between PyTorch's layouts and oodkit's (tfjs's). Conv weights: PyTorch
 * [out, in, kh, kw] (OIHW) ↔ tfjs [kh, kw, in, out] (HWIO). Linear weights stay [out, in] (oodkit's
 * W [C, D] is PyTorch's), and 1-d parameters and buffers (biases, BN γ/β/running stats) are the same.
 */
export function fromTorchLayout(layout: TorchLayout, data: Float32Array, torchShape: readonly number[]): Float32Array {
  if (layout === 'same') return data;
  const [o, i, h, w] = torchShape;
  const out = new Float32Array(data.length);
  for (let oo = 0; oo < o; oo++)
    for (let ii = 0; ii < i; ii++)
      for (let hh = 0; hh < h; hh++)
        for (let ww = 0; ww < w; ww++) out[((hh * w + ww) * i + ii) * o + oo] = data[((oo * i + ii) * h + hh) * w + ww];
  return out;
}

/** The inverse of `fromTorchLayout`: oodkit's elements in PyTorch's order. */
export function toTorchLayout(layout: TorchLayout, data: Float32Array, torchShape: readonly number[]): Float32Array {
  if (layout === 'same') return data;
  const [o, i, h, w] = torchShape;
  const out = new Float32Array(data.length);
  for (let oo = 0; oo < o; oo++)
    for (let ii = 0; ii < i; ii++)
      for (let hh = 0; hh < h; hh++)
        for (let ww = 0; ww < w; ww++) out[((oo * i + ii) * h + hh) * w + ww] = data[((hh * w + ww) * i + ii) * o + oo];
  return out;
}
