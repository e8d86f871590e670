import { readFile } from 'node:fs/promises';
import { DataError, UsageError } from '../errors/oodkit-error.js';
import type { CheckpointTensor } from './checkpoint-tensor.js';
import { PickleDict, type PickleValue } from './pickle.js';
import { readSafetensors } from './safetensors.js';
import { readTorchLegacy, readTorchZip, sniffWeightFile, TorchTensorRef, type TorchCheckpoint } from './torch-checkpoint.js';

/** A state_dict read from a weight file: parameter name → tensor, in the file's order. */
export interface StateDictFile {
  readonly path: string;
  readonly format: 'torch-zip' | 'torch-legacy' | 'safetensors';
  /** Key of the wrapping dict the state_dict was found under ('' = the file's top level). */
  readonly key: string;
  readonly tensors: Map<string, CheckpointTensor>;
  /**
   * PyTorch's `state_dict._metadata`: module prefix → the module's `version` (null when absent). Only
   * torch.save files of `module.state_dict()` have it; BatchNorm's loading rules depend on it.
   */
  readonly moduleVersions?: ReadonlyMap<string, number | null>;
}

export interface ReadStateDictOptions {
  /**
   * Key of the state_dict inside a wrapping dict (`torch.save({'state_dict': ..., 'epoch': 3})`); a
   * dotted path reaches nested dicts. Omitted: the top level when it is a state_dict, else the first of
   * `WRAPPER_KEYS` holding one, else the only value that is one.
   */
  readonly key?: string;
}

/** Where training scripts commonly put the weights inside a saved dict, in the order they are tried. */
export const WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'network', 'state', 'module', 'weights', 'params'] as const;

function isTensorDict(value: PickleValue): value is PickleDict {
  if (!(value instanceof PickleDict) || value.size === 0) return false;
  for (const [k, v] of value) if (typeof k !== 'string' || !(v instanceof TorchTensorRef)) return false;
  return true;
}

function describe(value: PickleValue): string {
  if (value instanceof PickleDict)
    return `${value.className} with keys ${[...value.keys()].slice(0, 12).map(String).join(', ')}${value.size > 12 ? ', ...' : ''}`;
  if (value instanceof TorchTensorRef) return 'a single tensor';
  if (Array.isArray(value)) return `a ${Object.isFrozen(value) ? 'tuple' : 'list'} of ${value.length}`;
  return typeof value;
}

function locateStateDict(root: PickleValue, path: string, key: string | undefined): { dict: PickleDict; key: string } {
  if (key !== undefined && key !== '') {
    let node: PickleValue = root;
    const parts = root instanceof PickleDict && root.has(key) ? [key] : key.split('.');
    for (const part of parts) {
      if (!(node instanceof PickleDict) || !node.has(part)) {
        throw new UsageError(`${path}: no key '${key}' in the checkpoint (it holds ${describe(root)})`);
      }
      node = node.get(part);
    }
    if (!isTensorDict(node)) throw new UsageError(`${path}: '${key}' is not a state_dict (it is ${describe(node)})`);
    return { dict: node, key };
  }
  if (isTensorDict(root)) return { dict: root, key: '' };
  if (root instanceof PickleDict) {
    for (const candidate of WRAPPER_KEYS) {
      const value = root.get(candidate);
      if (isTensorDict(value)) return { dict: value, key: candidate };
    }
    const found = [...root].filter(([, v]) => isTensorDict(v));
    if (found.length === 1) return { dict: found[0][1] as PickleDict, key: String(found[0][0]) };
    if (found.length > 1) {
      throw new UsageError(
        `${path}: several state_dicts in the checkpoint (${found.map(([k]) => `'${String(k)}'`).join(', ')}); name one with the key option`,
      );
    }
  }
  throw new DataError(`${path}: no state_dict found: the file holds ${describe(root)}`);
}

function moduleVersions(dict: PickleDict): Map<string, number | null> | undefined {
  const metadata = dict.attributes.get('_metadata');
  if (!(metadata instanceof PickleDict)) return undefined;
  const out = new Map<string, number | null>();
  for (const [prefix, info] of metadata) {
    const version = info instanceof PickleDict ? info.get('version') : undefined;
    out.set(String(prefix), typeof version === 'number' ? version : null);
  }
  return out;
}

async function openTorch(path: string, kind: 'zip' | 'torch-legacy'): Promise<TorchCheckpoint & { close?(): void }> {
  return kind === 'zip' ? readTorchZip(path) : readTorchLegacy(path, await readFile(path));
}

/**
 * Reads the state_dict of a PyTorch checkpoint (`torch.save` zip or legacy format, possibly a dict
 * wrapping the state_dict) or of a safetensors file. Tensors keep the file's dtype and PyTorch's
 * layout; nothing in the file is executed.
 */
export async function readStateDict(path: string, options: ReadStateDictOptions = {}): Promise<StateDictFile> {
  const kind = await sniffWeightFile(path);
  if (kind === 'safetensors') {
    if (options.key) throw new UsageError(`${path}: a safetensors file has no wrapping dict; drop the key option ('${options.key}')`);
    const { tensors } = await readSafetensors(path);
    return { path, format: 'safetensors', key: '', tensors };
  }
  if (kind === 'tar') {
    throw new DataError(
      `${path}: a tar-format torch.save file (PyTorch < 0.4) is not supported; load it in Python and re-save it: ` +
        `torch.save(torch.load(path), 'model.pth')`,
    );
  }
  if (kind === 'unknown') {
    throw new DataError(`${path}: not a PyTorch checkpoint (torch.save zip or legacy format) nor a safetensors file`);
  }
  const checkpoint = await openTorch(path, kind);
  try {
    const { dict, key } = locateStateDict(checkpoint.root, path, options.key);
    const refs = new Map<string, TorchTensorRef>();
    for (const [name, ref] of dict) refs.set(name as string, ref as TorchTensorRef);
    const tensors = await checkpoint.readTensors(refs);
    return { path, format: checkpoint.format, key, tensors, moduleVersions: moduleVersions(dict) };
  } finally {
    checkpoint.close?.();
  }
}
