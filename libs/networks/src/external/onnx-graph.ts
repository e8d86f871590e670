import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { onnxModelProto as ModelProto } from '@oodkit/compute';
import { DataError, UsageError } from '@oodkit/core';

/** ONNX TensorProto.DataType values oodkit converts to float32. */
const FLOAT = 1;
const FLOAT16 = 10;
const DOUBLE = 11;

export interface OnnxNode {
  readonly name: string;
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Numeric attributes (ints and floats) by name. */
  readonly attributes: ReadonlyMap<string, number>;
}

export interface OnnxValueInfo {
  readonly name: string;
  /** Dimensions: a number when fixed, the symbolic name (or null) when not. */
  readonly dims: readonly (number | string | null)[] | null;
}

/** A constant tensor of the graph (initializer or Constant node), converted to float32. */
export interface OnnxConstant {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

export interface OnnxGraph {
  readonly file: string;
  readonly nodes: readonly OnnxNode[];
  /** Graph inputs that are not initializers (what the caller feeds). */
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  /** Names of the constant tensors (initializers and Constant outputs); read with {@link onnxConstant}. */
  readonly constantNames: ReadonlySet<string>;
  constant(name: string): OnnxConstant | undefined;
}

interface TensorMessage {
  dims?: number[];
  data_type?: number;
  float_data?: number[];
  double_data?: number[];
  int32_data?: number[];
  name?: string;
  raw_data?: Uint8Array;
  external_data?: { key?: string; value?: string }[];
  data_location?: number;
}

interface ValueInfoMessage {
  name?: string;
  type?: { tensor_type?: { shape?: { dim?: { dim_value?: number; dim_param?: string }[] } } };
}

interface NodeMessage {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  attribute?: { name?: string; f?: number; i?: number; t?: TensorMessage; type?: number }[];
}

interface ModelMessage {
  graph?: {
    node?: NodeMessage[];
    initializer?: TensorMessage[];
    input?: ValueInfoMessage[];
    output?: ValueInfoMessage[];
  };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function rawBytes(tensor: TensorMessage, file: string): Uint8Array | undefined {
  if (tensor.data_location === 1) {
    const entries = new Map((tensor.external_data ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = entries.get('location');
    if (!location || isAbsolute(location) || location.split(/[\\/]/).includes('..'))
      throw new DataError(`${file}: tensor '${tensor.name}' has external data with an invalid location '${location ?? ''}'`);
    const path = resolve(dirname(file), location);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      throw new DataError(`${file}: tensor '${tensor.name}' keeps its data in '${path}', which cannot be read`);
    }
    const offset = Number(entries.get('offset') ?? 0);
    const length = entries.has('length') ? Number(entries.get('length')) : bytes.length - offset;
    if (!(offset >= 0 && length >= 0 && offset + length <= bytes.length))
      throw new DataError(
        `${file}: tensor '${tensor.name}': external data range ${offset}+${length} exceeds '${path}' (${bytes.length} bytes)`,
      );
    return bytes.subarray(offset, offset + length);
  }
  return tensor.raw_data && tensor.raw_data.length > 0 ? tensor.raw_data : undefined;
}

function toFloat32(tensor: TensorMessage, file: string): OnnxConstant {
  const dims = (tensor.dims ?? []).map(Number);
  const size = dims.reduce((a, b) => a * b, 1);
  const type = tensor.data_type ?? 0;
  const raw = rawBytes(tensor, file);
  let data: Float32Array;
  if (type === FLOAT) {
    data = raw
      ? new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))
      : Float32Array.from(tensor.float_data ?? []);
  } else if (type === DOUBLE) {
    data = raw
      ? Float32Array.from(new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)))
      : Float32Array.from(tensor.double_data ?? []);
  } else if (type === FLOAT16) {
    const halves = raw
      ? new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))
      : Uint16Array.from(tensor.int32_data ?? []);
    data = Float32Array.from(halves, halfToFloat);
  } else {
    throw new DataError(`${file}: tensor '${tensor.name}' has ONNX data type ${type}; the final layer must be float, float16 or double`);
  }
  if (data.length !== size)
    throw new DataError(`${file}: tensor '${tensor.name}' holds ${data.length} values for dims [${dims.join(', ')}]`);
  return { dims, data };
}

function valueInfo(v: ValueInfoMessage): OnnxValueInfo {
  const dim = v.type?.tensor_type?.shape?.dim;
  return {
    name: v.name ?? '',
    dims: dim
      ? dim.map((d) =>
          d.dim_value !== undefined && d.dim_value !== null && Number(d.dim_value) > 0 ? Number(d.dim_value) : (d.dim_param ?? null),
        )
      : null,
  };
}

/** Decodes the graph of an ONNX model file (bytes as read from `file`, which names errors). */
export function parseOnnxGraph(bytes: Uint8Array, file: string): OnnxGraph {
  let message: ModelMessage;
  try {
    message = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: false, arrays: true }) as ModelMessage;
  } catch (error) {
    throw new DataError(`${file}: not an ONNX model (protobuf decoding failed: ${(error as Error).message})`);
  }
  const graph = message.graph;
  if (!graph || !graph.node || graph.node.length === 0) throw new DataError(`${file}: not an ONNX model (no graph nodes)`);
  const tensors = new Map<string, TensorMessage>();
  for (const t of graph.initializer ?? []) if (t.name) tensors.set(t.name, t);
  const nodes: OnnxNode[] = graph.node.map((n, index) => {
    const attributes = new Map<string, number>();
    for (const a of n.attribute ?? []) {
      if (!a.name) continue;
      if (a.i !== undefined && a.i !== null) attributes.set(a.name, Number(a.i));
      else if (a.f !== undefined && a.f !== null) attributes.set(a.name, Number(a.f));
    }
    const node: OnnxNode = {
      name: n.name || `${n.op_type ?? 'node'}_${index}`,
      opType: n.op_type ?? '',
      inputs: n.input ?? [],
      outputs: n.output ?? [],
      attributes,
    };
    if (node.opType === 'Constant' && node.outputs[0]) {
      const value = (n.attribute ?? []).find((a) => a.name === 'value')?.t;
      if (value) tensors.set(node.outputs[0], { ...value, name: node.outputs[0] });
    }
    return node;
  });
  const converted = new Map<string, OnnxConstant>();
  return {
    file,
    nodes,
    inputs: (graph.input ?? []).filter((v) => !tensors.has(v.name ?? '')).map(valueInfo),
    outputs: (graph.output ?? []).map(valueInfo),
    constantNames: new Set(tensors.keys()),
    constant(name: string): OnnxConstant | undefined {
      const cached = converted.get(name);
      if (cached) return cached;
      const tensor = tensors.get(name);
      if (!tensor) return undefined;
      const value = toFloat32(tensor, file);
      converted.set(name, value);
      return value;
    },
  };
}

/**
 * Model bytes whose graph also outputs the named values: a serialized GraphProto appended as a second
 * `graph` field is merged into the first by protobuf's rules (repeated fields concatenate), so the
 * original bytes, including the fields this subset schema does not declare, are kept unchanged.
 */
export function withExtraOutputs(bytes: Uint8Array, names: readonly string[]): Uint8Array {
  if (names.length === 0) return bytes;
  const extra = ModelProto.encode(
    ModelProto.fromObject({ graph: { output: names.map((name) => ({ name, type: { tensor_type: { elem_type: FLOAT } } })) } }),
  ).finish();
  const merged = new Uint8Array(bytes.length + extra.length);
  merged.set(bytes, 0);
  merged.set(extra, bytes.length);
  return merged;
}

/** The values the graph computes (node outputs and graph inputs), for "did you mean" messages. */
export function onnxValueNames(graph: OnnxGraph): string[] {
  return [...graph.inputs.map((v) => v.name), ...graph.nodes.flatMap((n) => n.outputs)];
}

/** A UsageError naming an ONNX value that the graph does not compute. */
export function unknownOnnxValue(graph: OnnxGraph, option: string, name: string): UsageError {
  const names = onnxValueNames(graph);
  const near = names.filter((n) => n.toLowerCase().includes(name.toLowerCase())).slice(0, 5);
  const outputs = graph.outputs.map((o) => o.name).join(', ');
  return new UsageError(
    `${option}: '${name}' is not a value of ${graph.file} (graph outputs: ${outputs}${near.length ? `; similar names: ${near.join(', ')}` : ''})`,
  );
}
