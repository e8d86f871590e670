import { tf } from '@oodkit/compute';
import {
  DataError,
  readStateDict,
  shapeSize,
  toFloat32,
  type CheckpointTensor,
  type ReadStateDictOptions,
  type StateDictFile,
} from '@oodkit/core';
import type { TorchStateEntry } from '../layers/params.js';
import { fromTorchLayout, toTorchLayout } from './layout.js';

/** A network that knows the PyTorch state_dict it corresponds to (every TrunkClassifier does). */
export interface TorchStateNetwork {
  readonly name: string;
  torchState(): readonly TorchStateEntry[];
}

export interface LoadStateDictOptions {
  /** As PyTorch's `load_state_dict(strict=True)`: missing or unexpected keys are an error. Default true. */
  readonly strict?: boolean;
  /** The file, for messages. */
  readonly source?: string;
  /** The state_dict's `_metadata` versions (module prefix → version), which BatchNorm's rule reads. */
  readonly moduleVersions?: ReadonlyMap<string, number | null>;
}

export interface LoadStateDictReport {
  /** Wrapper prefix removed from every key ('module.' of DataParallel/DDP, '_orig_mod.' of torch.compile). */
  readonly strippedPrefix: string;
  /** Network parameters assigned from the checkpoint. */
  readonly loaded: readonly string[];
  /** Entries read and not kept (BatchNorm's num_batches_tracked). */
  readonly ignored: readonly string[];
  /** Non-strict loading only: what was left out on either side. */
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
  /** Source dtypes converted to float32, with their tensor counts. */
  readonly converted: Readonly<Record<string, number>>;
}

const WRAPPER_PREFIXES = ['module.', '_orig_mod.'];

function stripWrapperPrefixes(keys: readonly string[], expected: ReadonlySet<string>): string {
  let prefix = '';
  for (;;) {
    const next = WRAPPER_PREFIXES.find(
      (p) => keys.length > 0 && keys.every((k) => k.startsWith(prefix + p)) && ![...expected].some((e) => e.startsWith(p)),
    );
    if (!next) return prefix;
    prefix += next;
  }
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function list(keys: readonly string[]): string {
  const shown = keys.slice(0, 24).join(', ');
  return keys.length > 24 ? `${shown}, ... (${keys.length - 24} more)` : shown;
}

/** PyTorch's BatchNorm adds a missing num_batches_tracked when the module's saved version is absent or < 2. */
function toleratedMissing(entry: TorchStateEntry, prefix: string, versions: ReadonlyMap<string, number | null> | undefined): boolean {
  if (entry.variable || !entry.name.endsWith('.num_batches_tracked')) return false;
  const version = versions?.get(prefix + entry.name.slice(0, -'.num_batches_tracked'.length));
  return version === undefined || version === null || version < 2;
}

/** A key the network lacks that is the network's key under some extra leading prefix: say so. */
function prefixHint(unexpected: readonly string[], expected: ReadonlySet<string>): string {
  for (const key of unexpected) {
    const dot = key.indexOf('.');
    if (dot > 0 && expected.has(key.slice(dot + 1))) {
      return ` (checkpoint keys start with '${key.slice(0, dot + 1)}': save the inner model's state_dict, or pick that sub-dict with the key option)`;
    }
  }
  return '';
}

/**
 * Assigns a PyTorch state_dict (OpenOOD's / torchvision's names and layouts) to a network, as
 * `load_state_dict` does: names must match one to one (strict), every shape must match (always), and
 * nothing is assigned unless everything fits, so a failed load leaves the network as it was. Conv
 * weights are converted from OIHW to HWIO; float16/bfloat16/float64/int values to float32.
 */
export function loadStateDict(
  network: TorchStateNetwork,
  tensors: ReadonlyMap<string, CheckpointTensor>,
  options: LoadStateDictOptions = {},
): LoadStateDictReport {
  const strict = options.strict ?? true;
  const source = options.source ?? 'state_dict';
  const entries = network.torchState();
  const expected = new Set(entries.map((e) => e.name));
  const keys = [...tensors.keys()];
  const prefix = stripWrapperPrefixes(keys, expected);
  const byName = new Map(keys.map((k) => [k.slice(prefix.length), tensors.get(k)!]));

  const missing: string[] = [];
  const mismatched: string[] = [];
  const plan: { entry: TorchStateEntry; tensor: CheckpointTensor }[] = [];
  const ignored: string[] = [];
  for (const entry of entries) {
    const tensor = byName.get(entry.name);
    if (!tensor) {
      if (!toleratedMissing(entry, prefix, options.moduleVersions)) missing.push(entry.name);
      continue;
    }
    // PyTorch accepts a 1-element 1-d tensor for a 0-d parameter (checkpoints from before 0-d tensors)
    const fits =
      tensor.shape.length === entry.torchShape.length
        ? tensor.shape.every((d, i) => d === entry.torchShape[i])
        : entry.torchShape.length === 0 && tensor.shape.length === 1 && tensor.shape[0] === 1;
    if (!fits) {
      const hint =
        entry.arg && tensor.shape.length === entry.torchShape.length
          ? ` (the checkpoint has ${entry.arg.name} ${tensor.shape[entry.arg.axis]}: set network.args.${entry.arg.name}: ${tensor.shape[entry.arg.axis]})`
          : '';
      mismatched.push(`${entry.name}: ${fmt(tensor.shape)} in the checkpoint, ${fmt(entry.torchShape)} in the network${hint}`);
      continue;
    }
    if (entry.variable) plan.push({ entry, tensor });
    else ignored.push(entry.name);
  }
  const unexpected = [...byName.keys()].filter((k) => !expected.has(k));

  const problems: string[] = [];
  if (strict && missing.length) problems.push(`missing keys (${missing.length}): ${list(missing)}`);
  if (strict && unexpected.length)
    problems.push(`unexpected keys (${unexpected.length}): ${list(unexpected)}${prefixHint(unexpected, expected)}`);
  for (const m of mismatched) problems.push(`size mismatch for ${m}`);
  if (problems.length) {
    throw new DataError(`${source}: the state_dict does not fit network '${network.name}':\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }

  const converted: Record<string, number> = {};
  const values = plan.map(({ entry, tensor }) => {
    if (tensor.dtype !== 'float32') converted[tensor.dtype] = (converted[tensor.dtype] ?? 0) + 1;
    const data = fromTorchLayout(entry.layout, toFloat32(tensor), entry.torchShape);
    if (data.length !== shapeSize(entry.variable!.shape)) throw new Error(`internal: ${entry.name} has ${data.length} values`);
    return data;
  });
  plan.forEach(({ entry }, i) => tf.tidy(() => entry.variable!.assign(tf.tensor(values[i], entry.variable!.shape, 'float32'))));
  return {
    strippedPrefix: prefix,
    loaded: plan.map((p) => p.entry.name),
    ignored,
    missing: strict ? [] : missing,
    unexpected: strict ? [] : unexpected,
    converted,
  };
}

export interface LoadTorchCheckpointOptions extends ReadStateDictOptions {
  readonly strict?: boolean;
}

export interface LoadTorchCheckpointReport extends LoadStateDictReport {
  readonly format: StateDictFile['format'];
  /** Where the state_dict was found in a wrapping dict ('' = top level). */
  readonly key: string;
}

/**
 * Reads a PyTorch checkpoint (torch.save zip or legacy format, plain or wrapped state_dict, with or
 * without DataParallel's `module.`) or a safetensors file and loads it into `network`.
 */
export async function loadTorchCheckpoint(
  network: TorchStateNetwork,
  path: string,
  options: LoadTorchCheckpointOptions = {},
): Promise<LoadTorchCheckpointReport> {
  const file = await readStateDict(path, { key: options.key });
  const report = loadStateDict(network, file.tensors, {
    strict: options.strict,
    source: file.key ? `${path} ['${file.key}']` : path,
    moduleVersions: file.moduleVersions,
  });
  return { ...report, format: file.format, key: file.key };
}

/**
 * The network's weights as a PyTorch state_dict: OpenOOD's names, PyTorch's layouts and order, and
 * `num_batches_tracked` 0 (int64) where PyTorch keeps one — what `load_state_dict` accepts strictly
 * (e.g. `writeSafetensors(path, torchStateDict(net))`, then `safetensors.torch.load_file` in Python).
 */
export function torchStateDict(network: TorchStateNetwork): Map<string, CheckpointTensor> {
  const out = new Map<string, CheckpointTensor>();
  for (const entry of network.torchState()) {
    if (!entry.variable) {
      out.set(entry.name, { dtype: 'int64', shape: [...entry.torchShape], data: new BigInt64Array(shapeSize(entry.torchShape)) });
      continue;
    }
    const data = toTorchLayout(entry.layout, Float32Array.from(entry.variable.dataSync() as Float32Array), entry.torchShape);
    out.set(entry.name, { dtype: 'float32', shape: [...entry.torchShape], data });
  }
  return out;
}
