import protobuf from 'protobufjs';

/**
 * The part of ONNX's `onnx.proto` (IR version 3+) that oodkit reads and writes: the graph's nodes,
 * initializers, inputs and outputs, Constant values, and the opset a written model imports. Field
 * numbers are ONNX's; protobuf decoders skip fields a schema does not declare, so this subset decodes
 * any ONNX model. onnxruntime-node runs models but does not expose initializers, which is why
 * `@oodkit/networks` parses model files with it too.
 */
const ONNX_SUBSET_PROTO = `
syntax = "proto2";
package onnx;
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
  repeated double double_data = 10 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
}
message AttributeProto {
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional TensorProto t = 5;
  repeated int64 ints = 8;
  optional int32 type = 20;
}
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
  optional string domain = 7;
}
message TensorShapeProto {
  message Dimension { optional int64 dim_value = 1; optional string dim_param = 2; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  optional Tensor tensor_type = 1;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; }
message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
}
`;

/** `onnx.ModelProto` of the subset schema. */
export const onnxModelProto = protobuf.parse(ONNX_SUBSET_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');

/** TensorProto.DataType values of OnnxValueSpec.type. */
const ELEM_TYPES = { float32: 1, int64: 7, float64: 11 } as const;
/** AttributeProto.AttributeType INT and INTS. */
const INT = 2;
const INTS = 7;

/** A node of a graph oodkit writes: an ONNX operator with integer attributes. */
export interface OnnxNodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: Readonly<Record<string, number | readonly number[]>>;
}

/** A graph value (float32 unless said); a string dimension is symbolic (its size is given per run). */
export interface OnnxValueSpec {
  readonly name: string;
  readonly shape: readonly (number | string)[];
  readonly type?: 'float32' | 'float64' | 'int64';
}

/** The opset graphs are written against (Reduce* take `axes` as an attribute up to opset 17). */
export const WRITTEN_OPSET = 17;

/** The bytes of an ONNX model (IR version 8, default-domain opset 17). */
export function encodeOnnxModel(
  name: string,
  nodes: readonly OnnxNodeSpec[],
  inputs: readonly OnnxValueSpec[],
  outputs: readonly OnnxValueSpec[],
): Uint8Array {
  const value = (v: OnnxValueSpec) => ({
    name: v.name,
    type: {
      tensor_type: {
        elem_type: ELEM_TYPES[v.type ?? 'float32'],
        shape: { dim: v.shape.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) },
      },
    },
  });
  const attribute = (key: string, v: number | readonly number[]) =>
    typeof v === 'number' ? { name: key, type: INT, i: v } : { name: key, type: INTS, ints: [...v] };
  return onnxModelProto
    .encode(
      onnxModelProto.fromObject({
        ir_version: 8,
        producer_name: 'oodkit',
        opset_import: [{ domain: '', version: WRITTEN_OPSET }],
        graph: {
          name,
          node: nodes.map((n, i) => ({
            name: `${n.op}_${i}`,
            op_type: n.op,
            input: [...n.inputs],
            output: [...n.outputs],
            attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
          })),
          input: inputs.map(value),
          output: outputs.map(value),
        },
      }),
    )
    .finish();
}
