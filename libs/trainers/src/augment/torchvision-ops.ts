/**
 * torchvision's augmentation spaces (transforms/autoaugment.py, 0.14: `_apply_op`, RandAugment's and
 * AugMix's `_augmentation_space`) on the PIL-semantics operations of pil-ops.ts. Magnitudes are the
 * float32 values torch.linspace gives; geometric ops use torchvision's inverse affine matrix
 * (`_get_inverse_affine_matrix`) as its PIL path passes it to Image.transform (bilinear, fill 0).
 */
import * as ops from './pil-ops.js';
import type { Image8 } from './pil-ops.js';

export type OpName =
  | 'Identity'
  | 'ShearX'
  | 'ShearY'
  | 'TranslateX'
  | 'TranslateY'
  | 'Rotate'
  | 'Brightness'
  | 'Color'
  | 'Contrast'
  | 'Sharpness'
  | 'Posterize'
  | 'Solarize'
  | 'AutoContrast'
  | 'Equalize';

/** One op of a space: its magnitude table (null: takes none) and whether the magnitude gets a random sign. */
export interface OpSpec {
  readonly name: OpName;
  readonly magnitudes: readonly number[] | null;
  readonly signed: boolean;
}

const f = Math.fround;

/**
 * torch.linspace(start, end, steps) in float32 as torch's CPU kernel gives it: step = (end − start)/(steps − 1)
 * in float32, then start + step·idx below halfway and end − step·(steps − idx − 1) above, each rounded
 * once (the build contracts them to fused multiply-adds; double arithmetic rounds the same, the product
 * being exact). Bit-equal to torch 1.13 on every table the fixture checks.
 */
export function linspace32(start: number, end: number, steps: number): number[] {
  const [s0, s1] = [f(start), f(end)];
  if (steps === 1) return [s0];
  const step = f(f(s1 - s0) / (steps - 1));
  const half = Math.floor(steps / 2);
  return Array.from({ length: steps }, (_, i) => (i < half ? f(s0 + step * i) : f(s1 - step * (steps - i - 1))));
}

/** `top − round(arange(n) / ((n − 1) / 4))` as int (torch.round: half to even). */
function posterizeBits(top: number, n: number): number[] {
  const roundHalfEven = (v: number) => {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  return Array.from({ length: n }, (_, i) => top - roundHalfEven(f(f(i) / f((n - 1) / 4))));
}

/** RandAugment's 14 ops in torchvision's order, `num_bins` magnitudes each. */
export function randAugmentSpace(numBins: number, h: number, w: number): OpSpec[] {
  return [
    { name: 'Identity', magnitudes: null, signed: false },
    { name: 'ShearX', magnitudes: linspace32(0, 0.3, numBins), signed: true },
    { name: 'ShearY', magnitudes: linspace32(0, 0.3, numBins), signed: true },
    { name: 'TranslateX', magnitudes: linspace32(0, (150 / 331) * w, numBins), signed: true },
    { name: 'TranslateY', magnitudes: linspace32(0, (150 / 331) * h, numBins), signed: true },
    { name: 'Rotate', magnitudes: linspace32(0, 30, numBins), signed: true },
    { name: 'Brightness', magnitudes: linspace32(0, 0.9, numBins), signed: true },
    { name: 'Color', magnitudes: linspace32(0, 0.9, numBins), signed: true },
    { name: 'Contrast', magnitudes: linspace32(0, 0.9, numBins), signed: true },
    { name: 'Sharpness', magnitudes: linspace32(0, 0.9, numBins), signed: true },
    { name: 'Posterize', magnitudes: posterizeBits(8, numBins), signed: false },
    { name: 'Solarize', magnitudes: linspace32(255, 0, numBins), signed: false },
    { name: 'AutoContrast', magnitudes: null, signed: false },
    { name: 'Equalize', magnitudes: null, signed: false },
  ];
}

/** AugMix's ops (10 magnitude bins, `_PARAMETER_MAX`); `allOps` adds the four enhancements. */
export function augMixSpace(h: number, w: number, allOps: boolean): OpSpec[] {
  const n = 10;
  const space: OpSpec[] = [
    { name: 'ShearX', magnitudes: linspace32(0, 0.3, n), signed: true },
    { name: 'ShearY', magnitudes: linspace32(0, 0.3, n), signed: true },
    { name: 'TranslateX', magnitudes: linspace32(0, w / 3, n), signed: true },
    { name: 'TranslateY', magnitudes: linspace32(0, h / 3, n), signed: true },
    { name: 'Rotate', magnitudes: linspace32(0, 30, n), signed: true },
    { name: 'Posterize', magnitudes: posterizeBits(4, n), signed: false },
    { name: 'Solarize', magnitudes: linspace32(255, 0, n), signed: false },
    { name: 'AutoContrast', magnitudes: null, signed: false },
    { name: 'Equalize', magnitudes: null, signed: false },
  ];
  if (allOps) {
    for (const name of ['Brightness', 'Color', 'Contrast', 'Sharpness'] as const)
      space.push({ name, magnitudes: linspace32(0, 0.9, n), signed: true });
  }
  return space;
}

const degrees = (rad: number) => rad * (180 / Math.PI);
const radians = (deg: number) => deg * (Math.PI / 180);

/** torchvision's `_get_inverse_affine_matrix(center, angle, translate, scale, shear)` (degrees), the output→input map. */
export function inverseAffineMatrix(
  center: readonly [number, number],
  angle: number,
  translate: readonly [number, number],
  scale: number,
  shear: readonly [number, number],
): [number, number, number, number, number, number] {
  const rot = radians(angle);
  const sx = radians(shear[0]);
  const sy = radians(shear[1]);
  const [cx, cy] = center;
  const [tx, ty] = translate;
  const a = Math.cos(rot - sy) / Math.cos(sy);
  const b = (-Math.cos(rot - sy) * Math.tan(sx)) / Math.cos(sy) - Math.sin(rot);
  const c = Math.sin(rot - sy) / Math.cos(sy);
  const d = (-Math.sin(rot - sy) * Math.tan(sx)) / Math.cos(sy) + Math.cos(rot);
  const m = [d, -b, 0, -c, a, 0].map((v) => v / scale) as [number, number, number, number, number, number];
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

/** torchvision's `_apply_op` on a PIL-semantics image (bilinear, fill 0, as OpenOOD's `interpolation: bilinear`). */
export function applyOp(img: Image8, op: OpName, magnitude: number): Image8 {
  const centre: [number, number] = [img.w * 0.5, img.h * 0.5];
  switch (op) {
    case 'Identity':
      return img;
    case 'ShearX':
      return ops.affine(img, inverseAffineMatrix([0, 0], 0, [0, 0], 1, [degrees(Math.atan(magnitude)), 0]));
    case 'ShearY':
      return ops.affine(img, inverseAffineMatrix([0, 0], 0, [0, 0], 1, [0, degrees(Math.atan(magnitude))]));
    case 'TranslateX':
      return ops.affine(img, inverseAffineMatrix(centre, 0, [Math.trunc(magnitude), 0], 1, [0, 0]));
    case 'TranslateY':
      return ops.affine(img, inverseAffineMatrix(centre, 0, [0, Math.trunc(magnitude)], 1, [0, 0]));
    case 'Rotate':
      return ops.rotate(img, magnitude);
    case 'Brightness':
      return ops.brightness(img, 1 + magnitude);
    case 'Color':
      return ops.color(img, 1 + magnitude);
    case 'Contrast':
      return ops.contrast(img, 1 + magnitude);
    case 'Sharpness':
      return ops.sharpness(img, 1 + magnitude);
    case 'Posterize':
      return ops.posterize(img, Math.trunc(magnitude));
    case 'Solarize':
      return ops.solarize(img, magnitude);
    case 'AutoContrast':
      return ops.autocontrast(img);
    case 'Equalize':
      return ops.equalize(img);
  }
}
