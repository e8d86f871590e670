import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadOnnxRuntime, tf, type OnnxRuntimeModule } from '@oodkit/compute';
import { DataError, UsageError, type FinalLayer, type Postprocessor } from '@oodkit/core';
import { parseOnnxGraph, unknownOnnxValue, withExtraOutputs, type OnnxGraph } from './onnx-graph.js';
import { findOnnxFinalLayer, type OnnxFinalLayer } from './onnx-final-layer.js';
import type { InferenceModel, InferenceOutput } from './inference-model.js';

export interface OnnxModelOptions {
  /** The graph value holding the logits [N, C]; default: the output of the final Gemm/MatMul(+Add). */
  readonly logitsOutput?: string;
  /** The graph value holding the penultimate feature z [N, D]; default: the input of the final Gemm/MatMul. */
  readonly featuresOutput?: string;
  /** onnxruntime's intra-op threads (default: onnxruntime's own choice, every core). */
  readonly threads?: number;
}

/**
 * Largest |logits − (z·Wᵀ + b)| accepted on the first batch: float32 rounding of a D-term dot
 * product stays orders of magnitude below it, while a feature that is not the final layer's input
 * misses by far more.
 */
const HEAD_AGREEMENT_TOLERANCE = 1e-3;

/**
 * A model exported to ONNX (e.g. by `torch.onnx.export`), run by onnxruntime-node on the CPU. Inputs
 * are oodkit's NHWC batches; the graph's input is NCHW as PyTorch exports it. The final layer (W, b)
 * is read from the graph's constants, so every postprocessor that needs only logits, features and
 * W, b runs on it; it provides no gradients and no network (see {@link assertOnnxSupports}).
 */
export class OnnxModel implements InferenceModel {
  readonly name: string;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly featureDim: number;
  private headChecked = false;
  private disposed = false;

  private constructor(
    readonly file: string,
    private readonly session: import('onnxruntime-node').InferenceSession,
    private readonly inputName: string,
    readonly logitsOutput: string,
    readonly featuresOutput: string,
    private readonly layer: OnnxFinalLayer,
    inputShape: readonly [number, number, number],
    private readonly ortTensor: OnnxRuntimeModule['Tensor'],
  ) {
    this.name = `onnx:${file}`;
    this.inputShape = inputShape;
    this.numClasses = layer.numClasses;
    this.featureDim = layer.featureDim;
  }

  static async load(path: string, options: OnnxModelOptions = {}): Promise<OnnxModel> {
    const file = resolve(path);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new UsageError(`--onnx: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    const graph = parseOnnxGraph(bytes, file);
    const layer = findOnnxFinalLayer(graph, options.featuresOutput);
    const logitsOutput = options.logitsOutput ?? layer.logitsValue;
    if (!graph.nodes.some((n) => n.outputs.includes(logitsOutput)))
      throw unknownOnnxValue(graph, 'logits_output (--logits-output)', logitsOutput);
    const { inputName, inputShape } = imageInput(graph);
    const declared = new Set(graph.outputs.map((o) => o.name));
    const extra = [...new Set([logitsOutput, layer.featureValue])].filter((n) => !declared.has(n));
    const runtime = await loadOnnxRuntime();
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads > 0))
      throw new UsageError(`onnx threads: expected a positive integer, got ${options.threads}`);
    let session: import('onnxruntime-node').InferenceSession;
    try {
      session = await runtime.InferenceSession.create(withExtraOutputs(bytes, extra), {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        ...(options.threads !== undefined ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
      });
    } catch (error) {
      throw new DataError(`${file}: onnxruntime cannot load the model: ${(error as Error).message}`);
    }
    return new OnnxModel(file, session, inputName, logitsOutput, layer.featureValue, layer, inputShape, runtime.Tensor);
  }

  /** Which node the final layer was read from, and which values are fetched. */
  describe(): { finalLayerNode: string; finalLayerOp: 'Gemm' | 'MatMul'; logitsOutput: string; featuresOutput: string } {
    return {
      finalLayerNode: this.layer.node,
      finalLayerOp: this.layer.opType,
      logitsOutput: this.logitsOutput,
      featuresOutput: this.featuresOutput,
    };
  }

  finalLayer(): FinalLayer {
    const { numClasses, featureDim, weight, bias } = this.layer;
    return { numClasses, featureDim, weight: weight.slice(), bias: bias.slice() };
  }

  /** Logits and features of an NHWC batch (x stays the caller's). */
  async infer(x: tf.Tensor4D): Promise<InferenceOutput> {
    if (this.disposed) throw new UsageError(`${this.name} was disposed`);
    const [h, w, c] = this.inputShape;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c)
      throw new UsageError(`${this.name} expects input [N, ${h}, ${w}, ${c}] (NHWC), got [${x.shape.join(', ')}]`);
    const n = x.shape[0];
    const nchw = tf.tidy(() => tf.transpose(x, [0, 3, 1, 2]));
    let data: Float32Array;
    try {
      data = (await nchw.data()) as Float32Array;
    } finally {
      nchw.dispose();
    }
    const feeds = { [this.inputName]: new this.ortTensor('float32', data, [n, c, h, w]) };
    const result = await this.session.run(feeds, [this.logitsOutput, this.featuresOutput]);
    const logits = this.rows(result[this.logitsOutput]!, n, this.numClasses, 'logits_output (--logits-output)', this.logitsOutput);
    const features = this.rows(
      result[this.featuresOutput]!,
      n,
      this.featureDim,
      'features_output (--features-output)',
      this.featuresOutput,
    );
    for (const t of Object.values(result)) t.dispose();
    if (!this.headChecked) {
      this.checkHead(logits, features, n);
      this.headChecked = true;
    }
    return { logits, features };
  }

  private rows(t: import('onnxruntime-node').Tensor, n: number, width: number, option: string, value: string): Float32Array {
    if (t.type !== 'float32') throw new DataError(`${this.file}: ${option} '${value}' is ${t.type}, expected float32`);
    if (t.dims[0] !== n || t.size !== n * width)
      throw new DataError(
        `${this.file}: ${option} '${value}' has shape [${t.dims.join(', ')}] for a batch of ${n}; expected [${n}, ${width}] (the final layer ${this.layer.node} is ${this.numClasses}×${this.featureDim})`,
      );
    return (t.data as Float32Array).slice();
  }

  /** The logits must be the final layer applied to the features; otherwise W, b belong to another value. */
  private checkHead(logits: Float32Array, features: Float32Array, n: number): void {
    const { weight, bias, numClasses: classes, featureDim: dim } = this.layer;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < classes; k++) {
        let s = bias[k]!;
        for (let d = 0; d < dim; d++) s += features[i * dim + d]! * weight[k * dim + d]!;
        worst = Math.max(worst, Math.abs(s - logits[i * classes + k]!) / Math.max(1, Math.abs(s)));
      }
    }
    if (!(worst <= HEAD_AGREEMENT_TOLERANCE))
      throw new UsageError(
        `${this.file}: logits_output (--logits-output) '${this.logitsOutput}' is not features_output (--features-output) '${this.featuresOutput}' through the final layer ${this.layer.node} (relative difference ${worst.toExponential(2)}); name the logits and the input of the last linear layer`,
      );
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }
}

function imageInput(graph: OnnxGraph): { inputName: string; inputShape: readonly [number, number, number] } {
  if (graph.inputs.length !== 1)
    throw new UsageError(
      `${graph.file}: expected one image input, the graph has ${graph.inputs.length} (${graph.inputs.map((i) => i.name).join(', ')})`,
    );
  const input = graph.inputs[0]!;
  const dims = input.dims;
  if (!dims || dims.length !== 4 || ![dims[1], dims[2], dims[3]].every((d) => typeof d === 'number'))
    throw new UsageError(
      `${graph.file}: input '${input.name}' must be [N, C, H, W] with fixed C, H, W (as torch.onnx.export writes it), got [${(dims ?? []).map((d) => d ?? '?').join(', ')}]`,
    );
  const [, c, h, w] = dims as [unknown, number, number, number];
  return { inputName: input.name, inputShape: [h, w, c] };
}

/**
 * Refuses a postprocessor that needs the network (input gradients, intermediate blocks, extra heads,
 * member networks): an ONNX model provides logits, features and W, b only.
 */
export function assertOnnxSupports(postprocessor: Pick<Postprocessor, 'name' | 'needsNetwork' | 'networkUse'>): void {
  if (postprocessor.needsNetwork)
    throw new UsageError(
      `${postprocessor.name} needs ${postprocessor.networkUse ?? 'the network itself'}, which an ONNX model cannot provide (onnxruntime runs the exported graph to its outputs only); use a feature-based method, or load the model as an oodkit checkpoint`,
    );
}
