import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { DataError, UsageError } from '../errors/oodkit-error.js';
import { writeFileAtomic, writeFileAtomicSync } from './atomic.js';

/**
 * NumPy `.npy` files (format versions 1.0, 2.0, 3.0), C order, numeric dtypes. The format: magic
 * `\x93NUMPY`, major and minor version bytes, a little-endian header length (uint16 in v1, uint32 in
 * v2/v3), a Python dict literal `{'descr': ..., 'fortran_order': ..., 'shape': (...)}` padded with
 * spaces and a newline, then the raw array bytes.
 */

export type NpyDtype = 'bool' | 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

export type NpyTypedArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** A decoded array: `data` is C-ordered (row-major) with `product(shape)` elements. */
export interface NpyArray<T extends NpyTypedArray = NpyTypedArray> {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  readonly data: T;
}

export interface NpyHeader {
  readonly version: readonly [number, number];
  readonly dtype: NpyDtype;
  /** The descriptor exactly as in the file, e.g. `<f4`. */
  readonly descr: string;
  readonly littleEndian: boolean;
  readonly shape: readonly number[];
  /** Byte offset of the first array element. */
  readonly dataOffset: number;
  readonly itemSize: number;
  /** Number of elements, product of `shape` (1 for a 0-d array). */
  readonly size: number;
}

interface DtypeInfo {
  readonly dtype: NpyDtype;
  readonly code: string;
  readonly itemSize: number;
  create(length: number): NpyTypedArray;
  view(buffer: ArrayBuffer, byteOffset: number, length: number): NpyTypedArray;
}

const DTYPES: readonly DtypeInfo[] = [
  { dtype: 'bool', code: 'b1', itemSize: 1, create: (n) => new Uint8Array(n), view: (b, o, n) => new Uint8Array(b, o, n) },
  { dtype: 'uint8', code: 'u1', itemSize: 1, create: (n) => new Uint8Array(n), view: (b, o, n) => new Uint8Array(b, o, n) },
  { dtype: 'int8', code: 'i1', itemSize: 1, create: (n) => new Int8Array(n), view: (b, o, n) => new Int8Array(b, o, n) },
  { dtype: 'int16', code: 'i2', itemSize: 2, create: (n) => new Int16Array(n), view: (b, o, n) => new Int16Array(b, o, n) },
  { dtype: 'uint16', code: 'u2', itemSize: 2, create: (n) => new Uint16Array(n), view: (b, o, n) => new Uint16Array(b, o, n) },
  { dtype: 'int32', code: 'i4', itemSize: 4, create: (n) => new Int32Array(n), view: (b, o, n) => new Int32Array(b, o, n) },
  { dtype: 'uint32', code: 'u4', itemSize: 4, create: (n) => new Uint32Array(n), view: (b, o, n) => new Uint32Array(b, o, n) },
  { dtype: 'int64', code: 'i8', itemSize: 8, create: (n) => new BigInt64Array(n), view: (b, o, n) => new BigInt64Array(b, o, n) },
  { dtype: 'uint64', code: 'u8', itemSize: 8, create: (n) => new BigUint64Array(n), view: (b, o, n) => new BigUint64Array(b, o, n) },
  { dtype: 'float32', code: 'f4', itemSize: 4, create: (n) => new Float32Array(n), view: (b, o, n) => new Float32Array(b, o, n) },
  { dtype: 'float64', code: 'f8', itemSize: 8, create: (n) => new Float64Array(n), view: (b, o, n) => new Float64Array(b, o, n) },
];

const BY_CODE = new Map(DTYPES.map((d) => [d.code, d]));
const BY_DTYPE = new Map(DTYPES.map((d) => [d.dtype, d]));
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const PREAMBLE_BYTES = 12; // magic (6) + version (2) + header length (up to 4)
/** Node refuses single reads over 2 GiB; big arrays are read in 1 GiB pieces. */
const IO_CHUNK = 1 << 30;

function infoOf(dtype: NpyDtype): DtypeInfo {
  return BY_DTYPE.get(dtype)!;
}

/** The dtype a typed array is written as (Uint8Array → uint8 unless `bool` is asked for). */
export function dtypeOfArray(data: NpyTypedArray): NpyDtype {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  throw new UsageError('writeNpy: unsupported array type');
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function describeShape(shape: readonly number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}

// ---------------------------------------------------------------------------------------------
// Header parsing

/** Version and header length from the first bytes; `bytes` must hold at least 12 bytes or the whole file. */
function parsePreamble(bytes: Uint8Array, source: string): { version: [number, number]; headerLength: number; headerStart: number } {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new DataError(`${source}: not a NumPy .npy file (missing the \\x93NUMPY magic)`);
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) return { version: [major, minor], headerLength: view.getUint16(8, true), headerStart: 10 };
  if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new DataError(`${source}: truncated .npy header`);
    return { version: [major, minor], headerLength: view.getUint32(8, true), headerStart: 12 };
  }
  throw new DataError(`${source}: unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
}

function parseDescr(descr: string, source: string): { info: DtypeInfo; littleEndian: boolean } {
  const match = /^([<>|=]?)([a-zA-Z]\d+)$/.exec(descr);
  const info = match ? BY_CODE.get(match[2]!) : undefined;
  if (!match || !info) {
    throw new DataError(
      `${source}: unsupported dtype '${descr}'; supported: ${DTYPES.map((d) => `${d.itemSize === 1 ? '|' : '<'}${d.code}`).join(' ')}`,
    );
  }
  const order = match[1]!;
  // '|' (not applicable) only makes sense for one-byte types, '=' means the writer's native order,
  // which for every platform NumPy writes from in practice is little-endian.
  const littleEndian = order === '>' ? false : true;
  if (order === '|' && info.itemSize > 1) throw new DataError(`${source}: dtype '${descr}' has no byte order`);
  return { info, littleEndian };
}

/** Parse the Python-literal header dict. Only the three keys NumPy writes are accepted. */
function parseHeaderDict(text: string, source: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) {
    throw new DataError(`${source}: malformed .npy header (expected a dict literal, got ${JSON.stringify(trimmed.slice(0, 80))})`);
  }
  const descrMatch = /['"]descr['"]\s*:\s*(?:'([^']*)'|"([^"]*)"|(\[))/.exec(trimmed);
  if (!descrMatch) throw new DataError(`${source}: .npy header has no 'descr'`);
  if (descrMatch[3]) throw new DataError(`${source}: structured dtypes are not supported (descr is a list)`);
  const descr = descrMatch[1] ?? descrMatch[2]!;
  const fortranMatch = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(trimmed);
  if (!fortranMatch) throw new DataError(`${source}: .npy header has no 'fortran_order'`);
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(trimmed);
  if (!shapeMatch) throw new DataError(`${source}: .npy header has no 'shape' tuple`);
  const parts = shapeMatch[1]!
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const shape = parts.map((p) => {
    const cleaned = p.replace(/L$/, ''); // Python 2 long literals
    if (!/^\d+$/.test(cleaned)) throw new DataError(`${source}: invalid dimension '${p}' in .npy shape (${shapeMatch[1]})`);
    const value = Number(cleaned);
    if (!Number.isSafeInteger(value)) throw new DataError(`${source}: dimension ${p} is too large`);
    return value;
  });
  return { descr, fortranOrder: fortranMatch[1] === 'True', shape };
}

/**
 * Parse the header from the leading bytes of a file. `bytes` must contain at least the whole header
 * (preamble + dict); callers reading lazily read the preamble first to learn how much that is.
 */
export function parseNpyHeader(bytes: Uint8Array, source = '<buffer>'): NpyHeader {
  const { version, headerLength, headerStart } = parsePreamble(bytes, source);
  const dataOffset = headerStart + headerLength;
  if (bytes.length < dataOffset) {
    throw new DataError(`${source}: truncated .npy header (needs ${dataOffset} bytes, file has ${bytes.length})`);
  }
  const raw = bytes.subarray(headerStart, dataOffset);
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString(version[0] === 3 ? 'utf8' : 'latin1');
  const dict = parseHeaderDict(text, source);
  if (dict.fortranOrder) {
    throw new DataError(`${source}: Fortran-ordered arrays are not supported; save with np.ascontiguousarray(a) (C order)`);
  }
  const { info, littleEndian } = parseDescr(dict.descr, source);
  const size = product(dict.shape);
  if (!Number.isSafeInteger(size * info.itemSize)) throw new DataError(`${source}: shape ${describeShape(dict.shape)} is too large`);
  return {
    version,
    dtype: info.dtype,
    descr: dict.descr,
    littleEndian,
    shape: dict.shape,
    dataOffset,
    itemSize: info.itemSize,
    size,
  };
}

function dataBytesOf(header: NpyHeader): number {
  return header.size * header.itemSize;
}

function checkFileSize(header: NpyHeader, fileSize: number, source: string): void {
  const expected = header.dataOffset + dataBytesOf(header);
  if (fileSize < expected) {
    throw new DataError(
      `${source}: truncated .npy file: shape ${describeShape(header.shape)} ${header.descr} needs ${expected} bytes ` +
        `(${header.dataOffset} header + ${dataBytesOf(header)} data), the file has ${fileSize}`,
    );
  }
  if (fileSize > expected) {
    throw new DataError(
      `${source}: .npy file has ${fileSize - expected} unexpected bytes after the data: shape ${describeShape(header.shape)} ` +
        `${header.descr} needs ${expected} bytes, the file has ${fileSize}`,
    );
  }
}

function swapBytesInPlace(bytes: Uint8Array, itemSize: number): void {
  if (itemSize === 1) return;
  for (let i = 0; i < bytes.length; i += itemSize) {
    for (let a = i, b = i + itemSize - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** A fresh, aligned typed array filled from raw file bytes in the file's byte order. */
function arrayFromBytes(header: NpyHeader, bytes: Uint8Array, count: number): NpyTypedArray {
  const info = infoOf(header.dtype);
  const out = info.create(count);
  const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  outBytes.set(bytes.subarray(0, count * info.itemSize));
  if (header.littleEndian !== HOST_LITTLE_ENDIAN) swapBytesInPlace(outBytes, info.itemSize);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Decode a whole `.npy` file held in memory. */
export function decodeNpy(bytes: Uint8Array, source = '<buffer>'): NpyArray {
  const header = parseNpyHeader(bytes, source);
  checkFileSize(header, bytes.byteLength, source);
  const data = arrayFromBytes(header, bytes.subarray(header.dataOffset), header.size);
  return { dtype: header.dtype, shape: header.shape, data };
}

async function readExactly(handle: FileHandle, target: Uint8Array, position: number, source: string): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    const { bytesRead } = await handle.read(target, done, Math.min(target.byteLength - done, IO_CHUNK), position + done);
    if (bytesRead === 0) throw new DataError(`${source}: unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
}

async function readHeaderFrom(handle: FileHandle, source: string): Promise<{ header: NpyHeader; fileSize: number }> {
  const { size: fileSize } = await handle.stat();
  const preamble = new Uint8Array(Math.min(PREAMBLE_BYTES, fileSize));
  await readExactly(handle, preamble, 0, source);
  const { headerLength, headerStart } = parsePreamble(preamble, source);
  const headerEnd = headerStart + headerLength;
  if (fileSize < headerEnd) throw new DataError(`${source}: truncated .npy header (needs ${headerEnd} bytes, file has ${fileSize})`);
  const headerBytes = new Uint8Array(headerEnd);
  await readExactly(handle, headerBytes, 0, source);
  return { header: parseNpyHeader(headerBytes, source), fileSize };
}

/**
 * Read a whole `.npy` file into the matching typed array. The data is read straight into its final
 * buffer (no second copy), so a file costs its size in memory once.
 */
export async function readNpy(path: string): Promise<NpyArray> {
  const handle = await openForRead(path);
  try {
    const { header, fileSize } = await readHeaderFrom(handle, path);
    checkFileSize(header, fileSize, path);
    const info = infoOf(header.dtype);
    const data = info.create(header.size);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    await readExactly(handle, bytes, header.dataOffset, path);
    if (header.littleEndian !== HOST_LITTLE_ENDIAN) swapBytesInPlace(bytes, info.itemSize);
    return { dtype: header.dtype, shape: header.shape, data };
  } finally {
    await handle.close();
  }
}

/** Synchronous {@link readNpy}. */
export function readNpySync(path: string): NpyArray {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw openError(path, error);
  }
  try {
    const fileSize = fstatSync(fd).size;
    const preamble = new Uint8Array(Math.min(PREAMBLE_BYTES, fileSize));
    readSync(fd, preamble, 0, preamble.length, 0);
    const { headerLength, headerStart } = parsePreamble(preamble, path);
    const headerBytes = new Uint8Array(Math.min(headerStart + headerLength, fileSize));
    readSync(fd, headerBytes, 0, headerBytes.length, 0);
    const header = parseNpyHeader(headerBytes, path);
    checkFileSize(header, fileSize, path);
    const info = infoOf(header.dtype);
    const data = info.create(header.size);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(fd, bytes, done, Math.min(bytes.length - done, IO_CHUNK), header.dataOffset + done);
      if (n === 0) throw new DataError(`${path}: unexpected end of file at byte ${header.dataOffset + done}`);
      done += n;
    }
    if (header.littleEndian !== HOST_LITTLE_ENDIAN) swapBytesInPlace(bytes, info.itemSize);
    return { dtype: header.dtype, shape: header.shape, data };
  } finally {
    closeSync(fd);
  }
}

function openError(path: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new DataError(`${path}: no such file`, { cause: error });
  return new DataError(`${path}: cannot open (${code ?? String(error)})`, { cause: error });
}

async function openForRead(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (error) {
    throw openError(path, error);
  }
}

/**
 * A `.npy` file opened for row access: only the header is read at open; `readRows` reads the
 * requested slice of the first axis with positioned reads. Close it when done.
 */
export class NpyFile {
  private constructor(
    readonly path: string,
    readonly header: NpyHeader,
    private readonly handle: FileHandle,
  ) {}

  static async open(path: string): Promise<NpyFile> {
    const handle = await openForRead(path);
    try {
      const { header, fileSize } = await readHeaderFrom(handle, path);
      checkFileSize(header, fileSize, path);
      if (header.shape.length === 0) throw new DataError(`${path}: a 0-d array has no rows`);
      return new NpyFile(path, header, handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get dtype(): NpyDtype {
    return this.header.dtype;
  }

  get shape(): readonly number[] {
    return this.header.shape;
  }

  /** Length of the first axis. */
  get rows(): number {
    return this.header.shape[0]!;
  }

  /** Shape of one row (the trailing axes). */
  get rowShape(): readonly number[] {
    return this.header.shape.slice(1);
  }

  /** Elements per row. */
  get rowSize(): number {
    return product(this.rowShape);
  }

  /** Rows [start, start + count) as a fresh array of shape [count, ...rowShape]. */
  async readRows(start: number, count: number): Promise<NpyArray> {
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > this.rows) {
      throw new UsageError(`${this.path}: rows [${start}, ${start + count}) are outside [0, ${this.rows})`);
    }
    const info = infoOf(this.header.dtype);
    const data = info.create(count * this.rowSize);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    await readExactly(this.handle, bytes, this.header.dataOffset + start * this.rowSize * info.itemSize, this.path);
    if (this.header.littleEndian !== HOST_LITTLE_ENDIAN) swapBytesInPlace(bytes, info.itemSize);
    return { dtype: this.header.dtype, shape: [count, ...this.rowShape], data };
  }

  async readAll(): Promise<NpyArray> {
    return this.readRows(0, this.rows);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Open a `.npy` file for lazy row access (see {@link NpyFile}). */
export function openNpy(path: string): Promise<NpyFile> {
  return NpyFile.open(path);
}

// ---------------------------------------------------------------------------------------------
// Checked conversions

function isIntegerDtype(dtype: NpyDtype): boolean {
  return dtype !== 'float32' && dtype !== 'float64';
}

/**
 * The array as Int32Array. Integer dtypes are range-checked; float arrays are accepted only when every
 * value is an integer in range (labels saved as floats by some tools).
 */
export function npyToInt32(array: NpyArray, source = '<array>'): Int32Array {
  const { data, dtype } = array;
  if (data instanceof Int32Array) return data;
  const out = new Int32Array(data.length);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < -2147483648n || v > 2147483647n) {
        throw new DataError(`${source}: ${dtype} value ${v} at index ${i} does not fit in int32`);
      }
      out[i] = Number(v);
    }
    return out;
  }
  const integer = isIntegerDtype(dtype);
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (!integer && !Number.isInteger(v)) throw new DataError(`${source}: expected integers, found ${v} at index ${i} (${dtype})`);
    if (v < -2147483648 || v > 2147483647) throw new DataError(`${source}: ${dtype} value ${v} at index ${i} does not fit in int32`);
    out[i] = v;
  }
  return out;
}

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The array as Float32Array. Finite float64 values beyond float32's range are an error (they would
 * silently become ±Infinity); NaN and ±Infinity pass through for the caller to judge.
 */
export function npyToFloat32(array: NpyArray, source = '<array>'): Float32Array {
  const { data, dtype } = array;
  if (data instanceof Float32Array) return data;
  const out = new Float32Array(data.length);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]!);
    return out;
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (Number.isFinite(v) && Math.abs(v) > FLOAT32_MAX) {
      throw new DataError(`${source}: ${dtype} value ${v} at index ${i} overflows float32`);
    }
    out[i] = v;
  }
  return out;
}

/** The array as Float64Array; 64-bit integers beyond ±2^53 (not exactly representable) are an error. */
export function npyToFloat64(array: NpyArray, source = '<array>'): Float64Array {
  const { data, dtype } = array;
  if (data instanceof Float64Array) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const out = new Float64Array(data.length);
    const limit = BigInt(Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v > limit || v < -limit) throw new DataError(`${source}: ${dtype} value ${v} at index ${i} is not exact as float64`);
      out[i] = Number(v);
    }
    return out;
  }
  return Float64Array.from(data as ArrayLike<number>);
}

export async function readNpyAsInt32(path: string): Promise<{ shape: readonly number[]; data: Int32Array }> {
  const array = await readNpy(path);
  return { shape: array.shape, data: npyToInt32(array, path) };
}

export async function readNpyAsFloat32(path: string): Promise<{ shape: readonly number[]; data: Float32Array }> {
  const array = await readNpy(path);
  return { shape: array.shape, data: npyToFloat32(array, path) };
}

export async function readNpyAsFloat64(path: string): Promise<{ shape: readonly number[]; data: Float64Array }> {
  const array = await readNpy(path);
  return { shape: array.shape, data: npyToFloat64(array, path) };
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface NpyWriteInput {
  readonly data: NpyTypedArray;
  /** Defaults to `[data.length]`. */
  readonly shape?: readonly number[];
  /** Only needed to write a Uint8Array as `bool`; otherwise taken from the array type. */
  readonly dtype?: NpyDtype;
}

function resolveWrite(input: NpyWriteInput): { info: DtypeInfo; shape: readonly number[] } {
  const natural = dtypeOfArray(input.data);
  const dtype = input.dtype ?? natural;
  if (dtype !== natural && !(dtype === 'bool' && natural === 'uint8')) {
    throw new UsageError(`writeNpy: a ${input.data.constructor.name} cannot be written as ${dtype}`);
  }
  const shape = input.shape ?? [input.data.length];
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new UsageError(`writeNpy: invalid dimension ${d} in shape ${describeShape(shape)}`);
  }
  if (product(shape) !== input.data.length) {
    throw new UsageError(`writeNpy: shape ${describeShape(shape)} has ${product(shape)} elements, the array has ${input.data.length}`);
  }
  return { info: infoOf(dtype), shape };
}

/**
 * The header bytes NumPy itself would write (version 1.0 unless the dict needs more than 65535
 * bytes), padded so the data starts on a 64-byte boundary.
 */
export function encodeNpyHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const info = infoOf(dtype);
  const order = info.itemSize === 1 ? '|' : HOST_LITTLE_ENDIAN ? '<' : '>';
  const dict = `{'descr': '${order}${info.code}', 'fortran_order': False, 'shape': ${describeShape(shape)}, }`;
  const build = (preamble: number): { total: number; pad: number } => {
    const unpadded = preamble + dict.length + 1;
    const total = Math.ceil(unpadded / 64) * 64;
    return { total, pad: total - unpadded };
  };
  let preamble = 10;
  let { total, pad } = build(preamble);
  if (total - preamble > 0xffff) {
    preamble = 12;
    ({ total, pad } = build(preamble));
  }
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = preamble === 10 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (preamble === 10) view.setUint16(8, total - preamble, true);
  else view.setUint32(8, total - preamble, true);
  out.set(Buffer.from(dict + ' '.repeat(pad) + '\n', 'latin1'), preamble);
  return out;
}

function chunksFor(input: NpyWriteInput): Uint8Array[] {
  const { info, shape } = resolveWrite(input);
  const header = encodeNpyHeader(info.dtype, shape);
  const body = new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength);
  return [header, body];
}

/** The complete file bytes for an array. */
export function encodeNpy(input: NpyWriteInput): Uint8Array {
  const [header, body] = chunksFor(input);
  const out = new Uint8Array(header!.length + body!.length);
  out.set(header!, 0);
  out.set(body!, header!.length);
  return out;
}

/** Write an array as `.npy` atomically (temp file in the same folder, then rename). */
export async function writeNpy(path: string, input: NpyWriteInput): Promise<void> {
  await writeFileAtomic(path, chunksFor(input));
}

export function writeNpySync(path: string, input: NpyWriteInput): void {
  writeFileAtomicSync(path, chunksFor(input));
}
