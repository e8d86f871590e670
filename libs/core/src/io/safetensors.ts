import { open } from 'node:fs/promises';
import { DataError } from '../errors/oodkit-error.js';
import { writeFileAtomic } from './atomic.js';
import { DTYPE_BYTES, shapeSize, viewAs, type CheckpointDtype, type CheckpointTensor } from './checkpoint-tensor.js';

/**
 * The safetensors format: an unsigned little-endian 64-bit header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}`, then the tensor
 * bytes (little-endian, C order); offsets count from the end of the header. No npm package reads it
 * for Node (the format is one JSON header and raw arrays), so this reader validates every field itself.
 */

const SAFETENSORS_DTYPES: Readonly<Record<string, CheckpointDtype>> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsFile {
  readonly tensors: Map<string, CheckpointTensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export async function readSafetensors(path: string, options: { names?: ReadonlySet<string> } = {}): Promise<SafetensorsFile> {
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new DataError(error.code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot open (${error.code})`, { cause: error });
  });
  try {
    const size = (await handle.stat()).size;
    const lengthBytes = new Uint8Array(8);
    if ((await handle.read(lengthBytes, 0, 8, 0)).bytesRead !== 8) throw new DataError(`${path}: too short for a safetensors file`);
    const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
    if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) {
      throw new DataError(`${path}: safetensors header length ${headerLength} does not fit the file (${size} bytes)`);
    }
    const headerBytes = new Uint8Array(Number(headerLength));
    await handle.read(headerBytes, 0, headerBytes.length, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes)) as Record<string, unknown>;
    } catch (error) {
      throw new DataError(`${path}: safetensors header is not JSON (${(error as Error).message})`, { cause: error });
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      throw new DataError(`${path}: safetensors header is not an object`);
    const dataStart = 8 + headerBytes.length;
    const dataLength = size - dataStart;
    const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
    const tensors = new Map<string, CheckpointTensor>();
    const spans: [number, number, string][] = [];
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const entry = raw as HeaderEntry;
      const where = `${path}: tensor '${name}'`;
      const dtype = SAFETENSORS_DTYPES[entry?.dtype];
      if (!dtype)
        throw new DataError(`${where}: dtype '${String(entry?.dtype)}' is not supported (${Object.keys(SAFETENSORS_DTYPES).join(', ')})`);
      const shape = entry.shape;
      if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) throw new DataError(`${where}: invalid shape`);
      const [begin, end] = entry.data_offsets ?? [];
      if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin || end > dataLength) {
        throw new DataError(`${where}: data_offsets [${String(begin)}, ${String(end)}] outside the ${dataLength} data bytes`);
      }
      if (end - begin !== shapeSize(shape) * DTYPE_BYTES[dtype]) {
        throw new DataError(`${where}: ${end - begin} bytes for shape [${shape.join(', ')}] of ${dtype}`);
      }
      spans.push([begin, end, name]);
      if (options.names && !options.names.has(name)) continue;
      const bytes = new Uint8Array(end - begin);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, dataStart + begin);
      if (bytesRead !== bytes.length) throw new DataError(`${where}: truncated`);
      tensors.set(name, { dtype, shape: [...shape], data: viewAs(dtype, bytes) });
    }
    // The format requires the byte ranges to tile the data section without holes or overlaps.
    spans.sort((a, b) => a[0] - b[0]);
    let cursor = 0;
    for (const [begin, end, name] of spans) {
      if (begin !== cursor)
        throw new DataError(`${path}: tensor '${name}' starts at byte ${begin}, expected ${cursor} (overlapping or gapped data)`);
      cursor = end;
    }
    if (cursor !== dataLength) throw new DataError(`${path}: ${dataLength - cursor} trailing bytes after the last tensor`);
    return { tensors, metadata };
  } finally {
    await handle.close();
  }
}

const CODES: Readonly<Record<CheckpointDtype, string>> = Object.fromEntries(
  Object.entries(SAFETENSORS_DTYPES).map(([code, dtype]) => [dtype, code]),
) as Record<CheckpointDtype, string>;

/** Encodes tensors (C order, little-endian) as a safetensors file; the header is padded to 8 bytes. */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, CheckpointTensor>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const header: Record<string, unknown> = Object.keys(metadata).length ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, t] of tensors) {
    if (t.data.length !== shapeSize(t.shape))
      throw new Error(`tensor '${name}': ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    header[name] = { dtype: CODES[t.dtype], shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const raw = new TextEncoder().encode(JSON.stringify(header));
  const json = new Uint8Array(Math.ceil(raw.length / 8) * 8).fill(0x20); // space-padded: data starts 8-aligned
  json.set(raw);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Writes a safetensors file atomically (PyTorch reads it with `safetensors.torch.load_file`). */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, CheckpointTensor>,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
