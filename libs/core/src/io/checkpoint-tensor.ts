import { DataError } from '../errors/oodkit-error.js';

/**
 * Tensors as weight files store them (PyTorch checkpoints, safetensors): one dtype of the file, C order
 * after reading. float16/bfloat16 keep their raw 16-bit patterns; `toFloat32` converts any dtype.
 */
export type CheckpointDtype = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type CheckpointData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface CheckpointTensor {
  readonly dtype: CheckpointDtype;
  readonly shape: readonly number[];
  /** C-ordered elements (`product(shape)` of them); float16/bfloat16 as raw bits. */
  readonly data: CheckpointData;
}

export const DTYPE_BYTES: Readonly<Record<CheckpointDtype, number>> = {
  float64: 8,
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function isFloatingDtype(dtype: CheckpointDtype): boolean {
  return dtype === 'float64' || dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16';
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Typed-array view of `bytes` (which must start 8-byte aligned in its buffer) as `dtype`. */
export function viewAs(dtype: CheckpointDtype, bytes: Uint8Array): CheckpointData {
  const size = DTYPE_BYTES[dtype];
  if (bytes.byteLength % size !== 0) throw new Error(`${bytes.byteLength} bytes are not a whole number of ${dtype} elements`);
  const { buffer, byteOffset } = bytes;
  const n = bytes.byteLength / size;
  // a copy (new Uint8Array(view) copies; Buffer#slice would return another unaligned view)
  if (byteOffset % size !== 0) return viewAs(dtype, new Uint8Array(bytes));
  switch (dtype) {
    case 'float64':
      return new Float64Array(buffer, byteOffset, n);
    case 'float32':
      return new Float32Array(buffer, byteOffset, n);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buffer, byteOffset, n);
    case 'int64':
      return new BigInt64Array(buffer, byteOffset, n);
    case 'int32':
      return new Int32Array(buffer, byteOffset, n);
    case 'int16':
      return new Int16Array(buffer, byteOffset, n);
    case 'int8':
      return new Int8Array(buffer, byteOffset, n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer, byteOffset, n);
  }
}

/** Reverses the byte order of every `size`-byte element in place (big-endian files). */
export function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half → float32, exactly (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 → float32: the upper 16 bits of a float32, exactly. */
export function bfloat16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** Elements as float32, as PyTorch's `tensor.float()` rounds them (nearest-even for float64/int64). */
export function toFloat32(tensor: CheckpointTensor): Float32Array {
  const { dtype, data } = tensor;
  if (dtype === 'float32') return data as Float32Array;
  const out = new Float32Array(data.length);
  if (dtype === 'float16') for (let i = 0; i < out.length; i++) out[i] = halfToFloat((data as Uint16Array)[i]);
  else if (dtype === 'bfloat16') for (let i = 0; i < out.length; i++) out[i] = bfloat16ToFloat((data as Uint16Array)[i]);
  else if (dtype === 'int64') for (let i = 0; i < out.length; i++) out[i] = Number((data as BigInt64Array)[i]);
  else for (let i = 0; i < out.length; i++) out[i] = (data as Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array)[i];
  return out;
}

/**
 * A C-ordered copy of the strided view `(offset, shape, stride)` (in elements) of `storage`, as
 * PyTorch's `as_strided` defines it. The view must lie inside the storage.
 */
export function gatherStrided(
  storage: CheckpointData,
  offset: number,
  shape: readonly number[],
  stride: readonly number[],
  where: string,
): CheckpointData {
  const n = shapeSize(shape);
  if (shape.length !== stride.length) throw new DataError(`${where}: size has ${shape.length} dimensions but stride has ${stride.length}`);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || stride.some((s) => !Number.isInteger(s) || s < 0) || offset < 0) {
    throw new DataError(`${where}: invalid size [${shape.join(', ')}], stride [${stride.join(', ')}] or offset ${offset}`);
  }
  const make = (length: number): CheckpointData => new (storage.constructor as new (n: number) => CheckpointData)(length);
  if (n === 0) return make(0);
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
  if (last >= storage.length) {
    throw new DataError(
      `${where}: view (offset ${offset}, size [${shape.join(', ')}], stride [${stride.join(', ')}]) reaches element ${last} of a storage of ${storage.length}`,
    );
  }
  if (isContiguous(shape, stride)) return storage.slice(offset, offset + n) as CheckpointData;
  const out = make(n);
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let src = offset;
  for (let i = 0; i < n; i++) {
    (out as Float32Array)[i] = (storage as Float32Array)[src];
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      src += stride[d];
      if (index[d] < shape[d]) break;
      src -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** True when `stride` is the C-order stride of `shape` (dimensions of size 1 may have any stride). */
export function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}
