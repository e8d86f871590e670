import { DataError, UsageError, type FinalLayer } from '@oodkit/core';
import { unknownOnnxValue, type OnnxGraph, type OnnxNode } from './onnx-graph.js';

/** Ops that only change the shape of a value: a feature may pass through them on its way to the final layer. */
const RESHAPE_OPS = new Set(['Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Identity']);

/** The final linear layer found in an ONNX graph. */
export interface OnnxFinalLayer extends FinalLayer {
  /** The Gemm or MatMul node. */
  readonly node: string;
  readonly opType: 'Gemm' | 'MatMul';
  /** The value fed to the layer: the penultimate feature z. */
  readonly featureValue: string;
  /** The value the layer computes (after the bias Add of a MatMul): the logits. */
  readonly logitsValue: string;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

function biasOf(graph: OnnxGraph, name: string, numClasses: number, scale: number, node: string): Float32Array {
  const c = graph.constant(name);
  if (!c) throw new DataError(`${graph.file}: the bias '${name}' of final layer '${node}' is not a constant`);
  if (c.data.length === numClasses) return c.data.map((v) => v * scale);
  if (c.data.length === 1) return new Float32Array(numClasses).fill(c.data[0]! * scale);
  throw new DataError(`${graph.file}: the bias '${name}' of final layer '${node}' has ${c.data.length} values for ${numClasses} classes`);
}

/** The linear layer computed by `node` (Gemm or MatMul with a constant weight), or undefined when it is not one. */
function linearOf(graph: OnnxGraph, node: OnnxNode): OnnxFinalLayer | undefined {
  if (node.opType === 'Gemm') {
    const [a, b, c] = node.inputs;
    if (!a || !b || !graph.constantNames.has(b) || node.attributes.get('transA')) return undefined;
    const w = graph.constant(b)!;
    if (w.dims.length !== 2) return undefined;
    const alpha = node.attributes.get('alpha') ?? 1;
    const beta = node.attributes.get('beta') ?? 1;
    const transB = node.attributes.get('transB') ?? 0;
    const [rows, cols] = w.dims as [number, number];
    // Gemm computes A·B' with B' = Bᵀ when transB; W [C, D] is B' transposed.
    const weight = transB ? w.data.slice() : transpose(w.data, rows, cols);
    const [numClasses, featureDim] = transB ? [rows, cols] : [cols, rows];
    if (alpha !== 1) for (let i = 0; i < weight.length; i++) weight[i]! *= alpha;
    const bias = c ? biasOf(graph, c, numClasses, beta, node.name) : new Float32Array(numClasses);
    return { node: node.name, opType: 'Gemm', featureValue: a, logitsValue: node.outputs[0]!, numClasses, featureDim, weight, bias };
  }
  if (node.opType === 'MatMul') {
    const [a, b] = node.inputs;
    if (!a || !b || !graph.constantNames.has(b)) return undefined;
    const w = graph.constant(b)!;
    if (w.dims.length !== 2) return undefined;
    const [featureDim, numClasses] = w.dims as [number, number];
    const out = node.outputs[0]!;
    const adds = graph.nodes.filter((n) => n.opType === 'Add' && n.inputs.includes(out));
    const add = adds.length === 1 ? adds[0]! : undefined;
    const biasName = add?.inputs.find((i) => i !== out);
    const hasBias = add !== undefined && biasName !== undefined && graph.constantNames.has(biasName);
    return {
      node: node.name,
      opType: 'MatMul',
      featureValue: a,
      logitsValue: hasBias ? add.outputs[0]! : out,
      numClasses,
      featureDim,
      weight: transpose(w.data, featureDim, numClasses),
      bias: hasBias ? biasOf(graph, biasName, numClasses, 1, node.name) : new Float32Array(numClasses),
    };
  }
  return undefined;
}

/** Values reachable from `value` through shape-only ops (the value itself included). */
function reshapedForms(graph: OnnxGraph, value: string): Set<string> {
  const forms = new Set([value]);
  for (const node of graph.nodes) {
    if (RESHAPE_OPS.has(node.opType) && node.inputs[0] !== undefined && forms.has(node.inputs[0])) forms.add(node.outputs[0]!);
  }
  return forms;
}

/**
 * The final linear layer of an ONNX graph. Without `featuresOutput`: the last Gemm/MatMul node with
 * a constant weight (ONNX nodes are topologically sorted). With it: the last such node fed by that
 * value, directly or through shape-only ops (Flatten, Reshape, …).
 */
export function findOnnxFinalLayer(graph: OnnxGraph, featuresOutput?: string): OnnxFinalLayer {
  if (featuresOutput !== undefined) {
    const known = graph.inputs.some((v) => v.name === featuresOutput) || graph.nodes.some((n) => n.outputs.includes(featuresOutput));
    if (!known) throw unknownOnnxValue(graph, 'features_output (--features-output)', featuresOutput);
  }
  const forms = featuresOutput !== undefined ? reshapedForms(graph, featuresOutput) : undefined;
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    if (forms && !(node.inputs[0] !== undefined && forms.has(node.inputs[0]))) continue;
    const layer = linearOf(graph, node);
    if (layer) return forms ? { ...layer, featureValue: featuresOutput! } : layer;
  }
  throw new UsageError(
    forms
      ? `${graph.file}: no Gemm/MatMul with constant weights takes '${featuresOutput}' as its input, so the final layer (W, b) cannot be read; name the input of the final linear layer with features_output (--features-output)`
      : `${graph.file}: no Gemm/MatMul node with constant weights found, so the final layer (W, b) cannot be read; export the classifier's last layer as a linear layer`,
  );
}
