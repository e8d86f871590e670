import { open } from 'node:fs/promises';
import yauzl from 'yauzl';
import { DataError } from '../errors/oodkit-error.js';
import {
  DTYPE_BYTES,
  gatherStrided,
  swapBytes,
  viewAs,
  type CheckpointData,
  type CheckpointDtype,
  type CheckpointTensor,
} from './checkpoint-tensor.js';
import { PickleDict, unpickle, type PickleGlobal, type PickleValue } from './pickle.js';

/**
 * PyTorch's `torch.save` files, read without PyTorch and without running pickled code:
 * - the zip format (PyTorch ≥ 1.6): `<prefix>/data.pkl` is a pickle whose tensors reference storages
 *   by persistent id `('storage', StorageType, key, location, numel)`; storage `key` is the raw file
 *   `<prefix>/data/<key>` (little-endian unless `<prefix>/byteorder` says 'big');
 * - the legacy format (`_use_new_zipfile_serialization=False`, PyTorch < 1.6): pickles of the magic
 *   number, protocol version and system info, then the object, then the list of storage keys, then
 *   each storage as an int64 element count followed by its bytes.
 * The pickle may reference only the globals a state_dict (or a dict wrapping one) uses: see
 * `TORCH_GLOBALS`. Tensors are read lazily: only the storages of the tensors asked for are read.
 */

/** A storage referenced by the pickle; its bytes are read on demand. */
export class TorchStorage {
  constructor(
    readonly key: string,
    readonly dtype: CheckpointDtype,
    /** Elements (of `dtype`) in the storage, as the persistent id states. */
    readonly numel: number,
    readonly location: string,
  ) {}
}

/** A tensor of the pickle: a strided view of a storage (PyTorch's `_rebuild_tensor_v2` arguments). */
export class TorchTensorRef {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
  get dtype(): CheckpointDtype {
    return this.storage.dtype;
  }
}

/** The pickled object of a checkpoint with its tensors as references, and the means to read them. */
export interface TorchCheckpoint {
  readonly path: string;
  readonly format: 'torch-zip' | 'torch-legacy';
  /** The unpickled object: a PickleDict (state_dict or a wrapper), tensors as TorchTensorRef. */
  readonly root: PickleValue;
  /** C-ordered copies of the given tensors (each storage read once). */
  readTensors(refs: ReadonlyMap<string, TorchTensorRef>): Promise<Map<string, CheckpointTensor>>;
}

const STORAGE_DTYPES: Readonly<Record<string, CheckpointDtype>> = {
  DoubleStorage: 'float64',
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

const TORCH_DTYPES: Readonly<Record<string, CheckpointDtype>> = {
  float64: 'float64',
  double: 'float64',
  float32: 'float32',
  float: 'float32',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: CheckpointDtype,
  ) {}
}

class TorchDtype {
  constructor(readonly dtype: CheckpointDtype) {}
}

function asInts(value: PickleValue, what: string): number[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'number' || !Number.isInteger(v))) {
    throw new Error(`${what} is not a tuple of integers`);
  }
  return value as number[];
}

function rebuildTensor(args: readonly PickleValue[]): TorchTensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) throw new Error('tensor storage is not a storage');
  if (typeof offset !== 'number') throw new Error('tensor storage offset is not an integer');
  return new TorchTensorRef(storage, offset, asInts(size, 'tensor size'), asInts(stride, 'tensor stride'));
}

function global(name: string, behaviour: Omit<PickleGlobal, 'name'>): [string, PickleGlobal] {
  return [name, { name, ...behaviour }];
}

function orderedDict(args: readonly PickleValue[]): PickleDict {
  const dict = new PickleDict('OrderedDict');
  const items = args[0];
  if (items !== undefined && items !== null) {
    if (!Array.isArray(items)) throw new Error('OrderedDict argument is not a list of pairs');
    for (const pair of items) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new Error('OrderedDict argument is not a list of pairs');
      dict.set(pair[0], pair[1]);
    }
  }
  return dict;
}

/**
 * The globals a state_dict pickle uses (the set PyTorch's own `weights_only` loader allows, less
 * quantized/sparse/meta tensors and tensor subclasses), each as a function that builds data.
 */
export const TORCH_GLOBALS: ReadonlyMap<string, PickleGlobal> = new Map<string, PickleGlobal>([
  global('collections.OrderedDict', { call: orderedDict, construct: orderedDict }),
  global('torch._utils._rebuild_tensor', { call: rebuildTensor }),
  global('torch._utils._rebuild_tensor_v2', { call: rebuildTensor }),
  global('torch._utils._rebuild_parameter', {
    call: ([data]) => {
      if (!(data instanceof TorchTensorRef)) throw new Error('parameter data is not a tensor');
      return data;
    },
  }),
  global('torch._utils._rebuild_parameter_with_state', {
    call: ([data]) => {
      if (!(data instanceof TorchTensorRef)) throw new Error('parameter data is not a tensor');
      return data;
    },
  }),
  global('torch._tensor._rebuild_from_type_v2', {
    // (func, new_type, args, state): a tensor (subclass) with Python attributes; keep the tensor
    call: ([func, newType, args]) => {
      const fn = func as PickleGlobal;
      const type = (newType as PickleGlobal | undefined)?.name;
      if (!fn?.call || !['torch.Tensor', 'torch._tensor.Tensor', 'torch.nn.parameter.Parameter'].includes(type ?? '')) {
        throw new Error(`tensor subclass '${type ?? '?'}' is not supported`);
      }
      return fn.call(args as PickleValue[]);
    },
  }),
  global('torch.Tensor', {}),
  global('torch._tensor.Tensor', {}),
  global('torch.nn.parameter.Parameter', {}),
  global('torch.Size', { call: ([dims]) => Object.freeze(asInts(dims ?? [], 'torch.Size')) }),
  global('torch.device', { call: (args) => args.map(String).join(':') }),
  global('_codecs.encode', {
    // how protocol 2 pickles bytes: _codecs.encode(<latin-1 text>, 'latin1')
    call: ([text, encoding]) => {
      if (typeof text !== 'string' || !['latin1', 'latin-1'].includes(String(encoding))) throw new Error('unsupported _codecs.encode');
      return Uint8Array.from(text, (c) => c.charCodeAt(0));
    },
  }),
  global('builtins.bytes', {
    call: ([data]) => (data instanceof Uint8Array ? data : Array.isArray(data) ? Uint8Array.from(data as number[]) : new Uint8Array()),
  }),
  global('builtins.set', { call: ([items]) => new Set(Array.isArray(items) ? items : []) }),
  global('builtins.frozenset', { call: ([items]) => new Set(Array.isArray(items) ? items : []) }),
  global('builtins.bytearray', {
    call: ([data]) =>
      data instanceof Uint8Array ? data : typeof data === 'string' ? Uint8Array.from(data, (c) => c.charCodeAt(0)) : new Uint8Array(),
  }),
  ...Object.entries(STORAGE_DTYPES).flatMap(([name, dtype]) => {
    const type = (full: string) => [full, Object.assign(new StorageType(full, dtype), { name: full })] as [string, PickleGlobal];
    return name === 'UntypedStorage' ? [type('torch.UntypedStorage'), type('torch.storage.UntypedStorage')] : [type(`torch.${name}`)];
  }),
  ...Object.entries(TORCH_DTYPES).map(
    ([name, dtype]) => [`torch.${name}`, Object.assign(new TorchDtype(dtype), { name: `torch.${name}` })] as [string, PickleGlobal],
  ),
]);

/** Extra words for refused globals: what the file probably is and how to re-save it as a state_dict. */
export function torchRefusalHint(name: string): string | undefined {
  if (/^torch\._utils\._rebuild_(qtensor|sparse|meta|wrapper|device)/.test(name)) {
    return 'Quantized, sparse, meta and device tensors are not supported; save a dense float state_dict.';
  }
  if (name.startsWith('numpy.')) {
    return "NumPy values in the checkpoint are not read; save the weights alone: torch.save(model.state_dict(), 'model.pth').";
  }
  if (/^(torch\.nn\.|torchvision\.|openood\.|__main__\.)/.test(name) || /\.[A-Z][A-Za-z0-9_]*$/.test(name)) {
    return (
      'This looks like a whole pickled model object rather than its weights; in Python load it and re-save its ' +
      "state_dict: torch.save(model.state_dict(), 'model.pth') (or save the safetensors format)."
    );
  }
  return undefined;
}

/** The 10-byte magic number a legacy torch.save file starts with (pickled as a LONG1). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function storageFromPid(pid: PickleValue, source: string, storages: Map<string, TorchStorage>): TorchStorage {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new DataError(`${source}: unknown persistent id in the pickle`);
  const [, type, key, location, numel, view] = pid as PickleValue[];
  const dtype = type instanceof StorageType ? type.dtype : type instanceof TorchDtype ? type.dtype : undefined;
  if (dtype === undefined) throw new DataError(`${source}: storage '${String(key)}' has no known element type`);
  if (typeof numel !== 'number' || numel < 0) throw new DataError(`${source}: storage '${String(key)}' has an invalid size`);
  if (view !== undefined && view !== null) {
    throw new DataError(
      `${source}: storage views (PyTorch < 0.4 checkpoints) are not supported; re-save the state_dict with a newer PyTorch`,
    );
  }
  const name = String(key);
  const existing = storages.get(name);
  if (existing) return existing;
  // typed storages count elements; an UntypedStorage (uint8 here) counts bytes, which is the same
  const storage = new TorchStorage(name, dtype, numel, String(location));
  storages.set(name, storage);
  return storage;
}

/** Copies every storage's elements of `refs` out of `storageBytes` (fresh, aligned buffers). */
async function materialize(
  refs: ReadonlyMap<string, TorchTensorRef>,
  source: string,
  readStorage: (storage: TorchStorage) => Promise<Uint8Array>,
  bigEndian: boolean,
): Promise<Map<string, CheckpointTensor>> {
  const cache = new Map<TorchStorage, CheckpointData>();
  const out = new Map<string, CheckpointTensor>();
  for (const [name, ref] of refs) {
    let data = cache.get(ref.storage);
    if (!data) {
      const bytes = await readStorage(ref.storage);
      const expected = ref.storage.numel * DTYPE_BYTES[ref.storage.dtype];
      if (bytes.byteLength < expected) {
        throw new DataError(
          `${source}: storage '${ref.storage.key}' has ${bytes.byteLength} bytes, its ${ref.storage.numel} ${ref.storage.dtype} elements need ${expected}`,
        );
      }
      const own = bytes.byteOffset % 8 === 0 && bytes.byteLength === expected ? bytes : new Uint8Array(bytes.subarray(0, expected));
      if (bigEndian) swapBytes(own, DTYPE_BYTES[ref.storage.dtype]);
      data = viewAs(ref.storage.dtype, own);
      cache.set(ref.storage, data);
    }
    out.set(name, {
      dtype: ref.dtype,
      shape: [...ref.shape],
      data: gatherStrided(data, ref.offset, ref.shape, ref.stride, `${source}: tensor '${name}'`),
    });
  }
  return out;
}

function unpickleTorch(bytes: Uint8Array, source: string, storages: Map<string, TorchStorage>, offset = 0) {
  return unpickle(bytes, {
    source,
    offset,
    globals: TORCH_GLOBALS,
    refusalHint: torchRefusalHint,
    persistentLoad: (pid) => storageFromPid(pid, source, storages),
  });
}

interface ZipReader {
  readonly entries: ReadonlyMap<string, yauzl.Entry>;
  read(entry: yauzl.Entry): Promise<Uint8Array>;
  close(): void;
}

async function openZip(path: string): Promise<ZipReader> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { autoClose: false, strictFileNames: false, validateEntrySizes: true });
  } catch (error) {
    throw new DataError(`${path}: not a readable zip archive (${(error as Error).message})`, { cause: error });
  }
  const entries = new Map<string, yauzl.Entry>();
  try {
    for await (const entry of zip.eachEntry()) entries.set(entry.fileName, entry);
  } catch (error) {
    zip.close();
    throw new DataError(`${path}: corrupt zip archive (${(error as Error).message})`, { cause: error });
  }
  return {
    entries,
    async read(entry) {
      const out = new Uint8Array(entry.uncompressedSize);
      let at = 0;
      try {
        const stream = await zip.openReadStreamPromise(entry);
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          if (at + chunk.length > out.length) throw new Error('entry is larger than its header says');
          out.set(chunk, at);
          at += chunk.length;
        }
      } catch (error) {
        throw new DataError(`${path}: cannot read '${entry.fileName}' (${(error as Error).message})`, { cause: error });
      }
      if (at !== out.length) throw new DataError(`${path}: '${entry.fileName}' is truncated`);
      return out;
    },
    close: () => zip.close(),
  };
}

/** Reads a torch.save zip archive's pickle; storages are read when `readTensors` asks for them. */
export async function readTorchZip(path: string): Promise<TorchCheckpoint & { close(): void }> {
  const zip = await openZip(path);
  try {
    const pickles = [...zip.entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
    if (pickles.length !== 1) {
      const what = pickles.length === 0 ? 'no <name>/data.pkl entry' : `several data.pkl entries (${pickles.join(', ')})`;
      throw new DataError(`${path}: a zip archive but not a torch.save checkpoint: ${what}`);
    }
    const prefix = pickles[0].slice(0, -'data.pkl'.length);
    if (zip.entries.has(`${prefix}constants.pkl`) || zip.entries.has(`${prefix}code/`)) {
      throw new DataError(
        `${path}: a TorchScript archive (torch.jit.save), not a state_dict; in Python: torch.save(torch.jit.load(path).state_dict(), 'model.pth')`,
      );
    }
    const byteorderEntry = zip.entries.get(`${prefix}byteorder`);
    const byteorder = byteorderEntry ? new TextDecoder().decode(await zip.read(byteorderEntry)).trim() : 'little';
    if (byteorder !== 'little' && byteorder !== 'big') throw new DataError(`${path}: unknown byteorder '${byteorder}'`);
    const storages = new Map<string, TorchStorage>();
    const source = `${path} (${pickles[0]})`;
    const { value } = unpickleTorch(await zip.read(zip.entries.get(pickles[0])!), source, storages);
    return {
      path,
      format: 'torch-zip',
      root: value,
      readTensors: (refs) =>
        materialize(
          refs,
          path,
          async (storage) => {
            const entry = zip.entries.get(`${prefix}data/${storage.key}`);
            if (!entry) throw new DataError(`${path}: storage '${prefix}data/${storage.key}' is missing from the archive`);
            return zip.read(entry);
          },
          byteorder === 'big',
        ),
      close: () => zip.close(),
    };
  } catch (error) {
    zip.close();
    throw error;
  }
}

/** Reads a legacy (pre-1.6) torch.save file whole. */
export function readTorchLegacy(path: string, bytes: Uint8Array): TorchCheckpoint {
  const storages = new Map<string, TorchStorage>();
  const header = (offset: number) => unpickleTorch(bytes, path, storages, offset);
  const magic = header(0);
  if (BigInt(magic.value as number | bigint) !== LEGACY_MAGIC) throw new DataError(`${path}: not a torch.save file (wrong magic number)`);
  const protocol = header(magic.end);
  if (protocol.value !== 1001)
    throw new DataError(`${path}: legacy torch.save protocol ${String(protocol.value)} is not supported (expected 1001)`);
  // sys_info records the writer's byte order, but PyTorch writes sizes and storages little-endian
  const sysInfo = header(protocol.end);
  const main = header(sysInfo.end);
  const keys = header(main.end);
  if (!Array.isArray(keys.value)) throw new DataError(`${path}: legacy storage key list is missing`);
  // Each storage follows in key order: int64 element count, then count·element-size bytes.
  const offsets = new Map<string, { start: number; count: number }>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = keys.end;
  for (const key of keys.value as PickleValue[]) {
    const storage = storages.get(String(key));
    if (!storage) throw new DataError(`${path}: storage '${String(key)}' is listed but not referenced`);
    if (at + 8 > bytes.length) throw new DataError(`${path}: truncated at storage '${storage.key}'`);
    const count = Number(view.getBigInt64(at, true));
    const start = at + 8;
    at = start + count * DTYPE_BYTES[storage.dtype];
    if (at > bytes.length) throw new DataError(`${path}: truncated in storage '${storage.key}'`);
    offsets.set(storage.key, { start, count });
  }
  return {
    path,
    format: 'torch-legacy',
    root: main.value,
    readTensors: (refs) =>
      materialize(
        refs,
        path,
        async (storage) => {
          const where = offsets.get(storage.key);
          if (!where) throw new DataError(`${path}: storage '${storage.key}' has no data in the file`);
          return new Uint8Array(bytes.subarray(where.start, where.start + where.count * DTYPE_BYTES[storage.dtype]));
        },
        false,
      ),
  };
}

/** What a file's first bytes say it is. */
export type WeightFileKind = 'zip' | 'torch-legacy' | 'safetensors' | 'tar' | 'unknown';

export async function sniffWeightFile(path: string): Promise<WeightFileKind> {
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new DataError(error.code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot open (${error.code})`, { cause: error });
  });
  try {
    const head = new Uint8Array(512);
    const { bytesRead } = await handle.read(head, 0, 512, 0);
    return sniffBytes(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

export function sniffBytes(head: Uint8Array): WeightFileKind {
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  // pickle protocol 2 + LONG1 of 10 bytes = the legacy magic number
  if (head[0] === 0x80 && head[2] === 0x8a && head[3] === 0x0a) return 'torch-legacy';
  if (head.length >= 9 && head[8] === 0x7b && head[4] === 0 && head[5] === 0 && head[6] === 0 && head[7] === 0) return 'safetensors';
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar') return 'tar';
  return 'unknown';
}
