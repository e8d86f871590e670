import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DataError, writeFileAtomic, type Classifier, type RngState, type Trainer, type TrainerState } from '@oodkit/core';
import { tf } from '@oodkit/compute';
import { upgradeParameterNames } from '@oodkit/networks';

/**
 * Checkpoint file: one self-describing binary file so a single atomic rename publishes weights,
 * optimiser state and metadata together (a folder of files could be caught half-replaced by a kill).
 *
 *   bytes 0..7   magic "OODCKPT1"
 *   bytes 8..11  uint32 LE length L of the JSON header
 *   bytes 12..   UTF-8 JSON header (CheckpointHeader), zero-padded to a multiple of 8
 *   then         the tensor blobs, little-endian, each at the offset its table entry gives
 */
const MAGIC = 'OODCKPT1';
export const CHECKPOINT_FORMAT_VERSION = 1;

export type TensorDtype = 'float32' | 'int32';

export interface StoredTensor {
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/** Where in the run the checkpoint was taken; `stepInEpoch` > 0 means mid-epoch. */
export interface CheckpointPosition {
  /** Epoch the next step belongs to (0-based); equals `epochs` once training finished. */
  readonly epoch: number;
  /** Steps of `epoch` already taken. */
  readonly stepInEpoch: number;
  /** Optimiser steps taken in the whole run. */
  readonly globalStep: number;
}

export interface EpochRecord {
  readonly epoch: number;
  readonly meanLoss: number;
  readonly valAccuracy: number | null;
  readonly seconds: number;
}

export interface CheckpointMeta {
  readonly kind: 'last' | 'best';
  readonly position: CheckpointPosition;
  /** Hash of the training-relevant config; resume refuses a checkpoint made under another config. */
  readonly configHash: string;
  readonly seed: number;
  readonly network: {
    readonly name: string;
    readonly inputShape: readonly [number, number, number];
    readonly numClasses: number;
    readonly featureDim: number;
  };
  readonly trainer: { readonly name: string; readonly step: number; readonly extra?: Record<string, unknown> };
  /** States of the run's random streams (the pipeline derives per-step streams from the seed, see loop.ts). */
  readonly rng: Record<string, RngState>;
  readonly bestValAccuracy: number | null;
  readonly bestEpoch: number | null;
  readonly history: readonly EpochRecord[];
  /** Loss sum/count of the unfinished epoch, so the epoch's mean loss is exact across a resume. */
  readonly partialEpoch?: { readonly lossSum: number; readonly steps: number; readonly seconds: number };
  /** The resolved config the run was started with (for feat-extract and provenance). */
  readonly config?: Record<string, unknown>;
  readonly createdAt: string;
}

export interface Checkpoint {
  readonly meta: CheckpointMeta;
  /** Network variables by their stable name. */
  readonly variables: ReadonlyMap<string, StoredTensor>;
  /** Trainer slots (momentum buffers ...) by slot name. */
  readonly slots: ReadonlyMap<string, StoredTensor>;
}

interface TableEntry {
  readonly group: 'variable' | 'slot';
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly length: number;
}

interface CheckpointHeader {
  readonly format: 'oodkit-checkpoint';
  readonly version: number;
  readonly meta: CheckpointMeta;
  readonly tensors: readonly TableEntry[];
}

const pad8 = (n: number) => Math.ceil(n / 8) * 8;

/** The file bytes of a checkpoint (as chunks, to avoid one more full copy). */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array[] {
  const tensors: TableEntry[] = [];
  const blobs: Uint8Array[] = [];
  let offset = 0;
  const add = (group: TableEntry['group'], name: string, tensor: StoredTensor) => {
    const expected = tensor.shape.reduce((a, b) => a * b, 1);
    if (expected !== tensor.data.length) {
      throw new DataError(`checkpoint: ${group} '${name}' has shape [${tensor.shape.join(', ')}] but ${tensor.data.length} values`);
    }
    const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    tensors.push({ group, name, dtype: tensor.dtype, shape: [...tensor.shape], offset, length: tensor.data.length });
    blobs.push(bytes);
    const padding = pad8(bytes.byteLength) - bytes.byteLength;
    if (padding > 0) blobs.push(new Uint8Array(padding));
    offset += pad8(bytes.byteLength);
  };
  for (const [name, t] of checkpoint.variables) add('variable', name, t);
  for (const [name, t] of checkpoint.slots) add('slot', name, t);
  const header: CheckpointHeader = { format: 'oodkit-checkpoint', version: CHECKPOINT_FORMAT_VERSION, meta: checkpoint.meta, tensors };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = new Uint8Array(pad8(12 + json.byteLength));
  head.set(Buffer.from(MAGIC, 'latin1'), 0);
  new DataView(head.buffer).setUint32(8, json.byteLength, true);
  head.set(json, 12);
  return [head, ...blobs];
}

/** The header of a checkpoint's bytes (magic, JSON header), checked; needs only the file's start. */
function decodeCheckpointHeader(bytes: Uint8Array, source: string): CheckpointHeader {
  if (bytes.byteLength < 12 || Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== MAGIC) {
    throw new DataError(`${source}: not an oodkit checkpoint (missing the ${MAGIC} magic)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(8, true);
  if (12 + jsonLength > bytes.byteLength) throw new DataError(`${source}: truncated checkpoint header`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(12, 12 + jsonLength)).toString('utf8')) as CheckpointHeader;
  } catch (error) {
    throw new DataError(`${source}: corrupt checkpoint header (${(error as Error).message})`, { cause: error });
  }
  if (header.format !== 'oodkit-checkpoint' || header.version !== CHECKPOINT_FORMAT_VERSION) {
    throw new DataError(
      `${source}: unsupported checkpoint format ${header.format} v${header.version} (expected oodkit-checkpoint v${CHECKPOINT_FORMAT_VERSION})`,
    );
  }
  return header;
}

export function decodeCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  const header = decodeCheckpointHeader(bytes, source);
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  const dataStart = pad8(12 + jsonLength);
  const variables = new Map<string, StoredTensor>();
  const slots = new Map<string, StoredTensor>();
  for (const entry of header.tensors) {
    const begin = dataStart + entry.offset;
    const byteLength = entry.length * 4;
    if (begin + byteLength > bytes.byteLength) {
      throw new DataError(
        `${source}: truncated checkpoint: ${entry.group} '${entry.name}' needs bytes up to ${begin + byteLength}, file has ${bytes.byteLength}`,
      );
    }
    // Copy into a fresh aligned buffer: the file buffer's offsets need not be 4-byte aligned (and
    // Buffer#slice would return a view into Node's shared pool, not a copy).
    const raw = new Uint8Array(byteLength);
    raw.set(bytes.subarray(begin, begin + byteLength));
    const data = entry.dtype === 'int32' ? new Int32Array(raw.buffer) : new Float32Array(raw.buffer);
    (entry.group === 'variable' ? variables : slots).set(entry.name, { dtype: entry.dtype, shape: entry.shape, data });
  }
  return { meta: header.meta, variables, slots };
}

export async function writeCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, encodeCheckpoint(checkpoint));
}

/** The metadata of a checkpoint without reading its tensors (the header is at the start of the file). */
export async function readCheckpointMeta(path: string): Promise<CheckpointMeta> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw checkpointReadError(path, error);
  }
  try {
    const head = Buffer.alloc(12);
    const { bytesRead: headRead } = await handle.read(head, 0, 12, 0);
    // Read no more than the file holds, whatever length a damaged header claims.
    const size = (await handle.stat()).size;
    const jsonLength = headRead === 12 && head.subarray(0, 8).toString('latin1') === MAGIC ? head.readUInt32LE(8) : 0;
    const bytes = Buffer.alloc(Math.min(size, 12 + jsonLength));
    const { bytesRead } = await handle.read(bytes, 0, bytes.byteLength, 0);
    return decodeCheckpointHeader(bytes.subarray(0, bytesRead), path).meta;
  } finally {
    await handle.close();
  }
}

function checkpointReadError(path: string, error: unknown): DataError {
  const code = (error as NodeJS.ErrnoException).code;
  return new DataError(code === 'ENOENT' ? `${path}: no such checkpoint` : `${path}: cannot read checkpoint (${code})`, { cause: error });
}

export async function readCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw checkpointReadError(path, error);
  }
  return decodeCheckpoint(bytes, path);
}

/** Host copies of every persistent network variable. */
export function snapshotVariables(network: Classifier): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [name, variable] of network.namedVariables()) {
    const dtype = variable.dtype === 'int32' ? 'int32' : 'float32';
    if (variable.dtype !== 'int32' && variable.dtype !== 'float32') {
      throw new DataError(`checkpoint: variable '${name}' has dtype ${variable.dtype}; only float32 and int32 are stored`);
    }
    const data = variable.dataSync() as Float32Array | Int32Array;
    out.set(name, { dtype, shape: [...variable.shape], data: dtype === 'int32' ? Int32Array.from(data) : Float32Array.from(data) });
  }
  return out;
}

/** Assign stored values to the network's variables; names and shapes must match exactly. */
export function restoreVariables(network: Classifier, stored: ReadonlyMap<string, StoredTensor>, source: string): void {
  const named = network.namedVariables();
  const variables = upgradeParameterNames(network.name, stored);
  const missing = [...named.keys()].filter((name) => !variables.has(name));
  const unexpected = [...variables.keys()].filter((name) => !named.has(name));
  if (missing.length > 0 || unexpected.length > 0) {
    throw new DataError(
      `${source}: checkpoint does not match network '${network.name}'` +
        (missing.length ? `; missing variables: ${missing.join(', ')}` : '') +
        (unexpected.length ? `; unexpected variables: ${unexpected.join(', ')}` : ''),
    );
  }
  for (const [name, variable] of named) {
    const stored = variables.get(name)!;
    if (stored.shape.length !== variable.shape.length || stored.shape.some((d, i) => d !== variable.shape[i])) {
      throw new DataError(
        `${source}: variable '${name}' has shape [${stored.shape.join(', ')}] in the checkpoint, the network expects [${variable.shape.join(', ')}]`,
      );
    }
    tf.tidy(() => variable.assign(tf.tensor(stored.data, [...stored.shape], stored.dtype)));
  }
}

export function trainerSlots(state: TrainerState): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [name, data] of Object.entries(state.slots))
    out.set(name, { dtype: 'float32', shape: [data.length], data: Float32Array.from(data) });
  return out;
}

export function trainerStateFrom(meta: CheckpointMeta, slots: ReadonlyMap<string, StoredTensor>): TrainerState {
  const record: Record<string, Float32Array> = {};
  for (const [name, t] of slots) record[name] = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  return { step: meta.trainer.step, slots: record, ...(meta.trainer.extra ? { extra: meta.trainer.extra } : {}) };
}

/** Capture network + trainer into a checkpoint object. */
export function captureCheckpoint(
  network: Classifier,
  trainer: Trainer,
  meta: Omit<CheckpointMeta, 'trainer' | 'network' | 'createdAt'>,
): Checkpoint {
  const state = trainer.getState();
  return {
    meta: {
      ...meta,
      network: { name: network.name, inputShape: network.inputShape, numClasses: network.numClasses, featureDim: network.featureDim },
      trainer: { name: trainer.name, step: state.step, ...(state.extra ? { extra: state.extra } : {}) },
      createdAt: new Date().toISOString(),
    },
    variables: snapshotVariables(network),
    slots: trainerSlots(state),
  };
}
