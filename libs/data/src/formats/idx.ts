import { open, readFile, stat } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { DataError } from '@oodkit/core';
import { BufferRows, FileRows, type RowStore } from './rows.js';

/** IDX element types (LeCun's format); oodkit reads only unsigned bytes, which is what image data uses. */
const TYPE_NAMES: Record<number, string> = { 0x08: 'uint8', 0x09: 'int8', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64' };

export interface IdxHeader {
  readonly dims: readonly number[];
  readonly headerBytes: number;
}

/** Parses and checks the header; `bytes` is at least the first 4 + 4·ndim bytes. */
export function parseIdxHeader(bytes: Uint8Array, file: string, totalBytes: number): IdxHeader {
  if (totalBytes < 4) throw new DataError(`${file}: truncated idx file (${totalBytes} bytes, the header alone needs 4)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(`${file}: not an idx file (bytes 0-1 are ${hex(bytes[0])} ${hex(bytes[1])}, expected 00 00)`);
  }
  const type = bytes[2];
  if (type !== 0x08) {
    const name = TYPE_NAMES[type];
    throw new DataError(
      `${file}: idx element type ${name ?? `0x${type.toString(16)} (invalid)`} at byte 2 is not supported; expected uint8 (0x08)`,
    );
  }
  const ndim = bytes[3];
  if (ndim < 1) throw new DataError(`${file}: idx header declares 0 dimensions at byte 3`);
  const headerBytes = 4 + 4 * ndim;
  if (totalBytes < headerBytes)
    throw new DataError(`${file}: truncated idx header (${totalBytes} bytes, ${ndim} dimensions need ${headerBytes})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const expected = headerBytes + dims.reduce((a, b) => a * b, 1);
  if (totalBytes < expected) {
    throw new DataError(
      `${file}: truncated idx file: header says shape [${dims.join(', ')}] = ${expected} bytes, file has ${totalBytes} (data ends at byte ${totalBytes})`,
    );
  }
  if (totalBytes > expected) {
    throw new DataError(
      `${file}: corrupt idx file: ${totalBytes - expected} unexpected trailing bytes after byte ${expected} for shape [${dims.join(', ')}]`,
    );
  }
  return { dims, headerBytes };
}

function hex(b: number | undefined): string {
  return b === undefined ? '??' : b.toString(16).padStart(2, '0');
}

export interface IdxArray {
  readonly file: string;
  readonly dims: readonly number[];
  /** Rows along the first dimension. */
  readonly rows: RowStore;
}

/** Opens an idx file (raw or gzip). Raw files larger than `lazyAboveBytes` stay on disk and are read per batch. */
export async function openIdx(file: string, options: { lazyAboveBytes?: number } = {}): Promise<IdxArray> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    throw new DataError(`${file}: cannot read idx file (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
  const lazyAbove = options.lazyAboveBytes ?? 512 * 1024 * 1024;
  const head = Buffer.alloc(Math.min(size, 64));
  if (size > 0) {
    const fh = await open(file, 'r');
    try {
      await fh.read(head, 0, head.length, 0);
    } finally {
      await fh.close();
    }
  }
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  if (!gzip && size > lazyAbove) {
    const header = parseIdxHeader(head, file, size);
    const rowBytes = header.dims.slice(1).reduce((a, b) => a * b, 1);
    return { file, dims: header.dims, rows: new FileRows(file, header.headerBytes, header.dims[0], rowBytes) };
  }
  const key = `${file}|${size}|${(await stat(file)).mtimeMs}`;
  const cached = loaded.get(key)?.deref();
  if (cached) return cached;
  let bytes: Uint8Array = await readFile(file);
  if (gzip) {
    try {
      bytes = gunzipSync(bytes);
    } catch (error) {
      throw new DataError(`${file}: corrupt gzip stream (${(error as Error).message})`, { cause: error });
    }
  }
  const header = parseIdxHeader(bytes, file, bytes.length);
  const rowBytes = header.dims.slice(1).reduce((a, b) => a * b, 1);
  const array: IdxArray = { file, dims: header.dims, rows: new BufferRows(bytes.subarray(header.headerBytes), header.dims[0], rowBytes) };
  loaded.set(key, new WeakRef(array));
  return array;
}

/**
 * Files already in memory, by path, size and mtime: a benchmark opens MNIST's train file for both
 * its train and val splits, which then share one buffer. Weak, so unused buffers are still freed.
 */
const loaded = new Map<string, WeakRef<IdxArray>>();

/** Serialises a uint8 array as idx (used for caches and test fixtures). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}
