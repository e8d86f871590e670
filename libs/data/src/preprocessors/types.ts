import type { Rng } from '@oodkit/core';

/** Pixels of a batch on the host, NHWC: uint8 until something (normalize) turns them into float32. */
export interface HostImages {
  readonly data: Uint8Array | Float32Array;
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
}

/**
 * A batch transform on host arrays (cheap, no tensors, usable in worker threads). Random ones
 * draw only from the `rng` they are given, which the loader derives per (epoch, batch, step).
 */
export interface Preprocessor {
  readonly name: string;
  readonly random: boolean;
  /** Shape of one output image for input shape [h, w, c]. */
  outputShape(shape: readonly [number, number, number]): [number, number, number];
  apply(images: HostImages, rng: Rng): HostImages;
}

export function allocLike(images: HostImages, length: number): Uint8Array | Float32Array {
  return images.data instanceof Uint8Array ? new Uint8Array(length) : new Float32Array(length);
}

/** Runs a chain; step i gets stream `step-i` so inserting a deterministic step never shifts random draws of others. */
export function applyChain(chain: readonly Preprocessor[], images: HostImages, rng: Rng): HostImages {
  let current = images;
  chain.forEach((step, i) => {
    current = step.apply(current, step.random ? rng.derive(`step-${i}-${step.name}`) : rng);
  });
  return current;
}

export function chainOutputShape(chain: readonly Preprocessor[], shape: readonly [number, number, number]): [number, number, number] {
  let s: [number, number, number] = [shape[0], shape[1], shape[2]];
  for (const step of chain) s = step.outputShape(s);
  return s;
}

/** uint8 → float32 in [0, 1] (what the loader does when a chain ends without normalize). */
export function toUnitFloat(images: HostImages): HostImages {
  if (images.data instanceof Float32Array) return images;
  const out = new Float32Array(images.data.length);
  const src = images.data;
  for (let i = 0; i < src.length; i++) out[i] = src[i] / 255;
  return { ...images, data: out };
}

/**
 * Copies a window of each image into a new [n, oh, ow, c] array; positions outside the source are
 * 0 (the zero padding of torchvision's crops). `origin(i)` gives the window's top-left in the source.
 */
export function cropWindows(images: HostImages, oh: number, ow: number, origin: (i: number) => [number, number]): HostImages {
  const { n, h, w, c, data } = images;
  const out = allocLike(images, n * oh * ow * c);
  for (let i = 0; i < n; i++) {
    const [top, left] = origin(i);
    const src = i * h * w * c;
    const dst = i * oh * ow * c;
    for (let y = 0; y < oh; y++) {
      const sy = top + y;
      if (sy < 0 || sy >= h) continue;
      const x0 = Math.max(0, -left);
      const x1 = Math.min(ow, w - left);
      if (x1 <= x0) continue;
      out.set(data.subarray(src + (sy * w + left + x0) * c, src + (sy * w + left + x1) * c), dst + (y * ow + x0) * c);
    }
  }
  return { n, h: oh, w: ow, c, data: out };
}
