import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { tf } from '@oodkit/compute';
import { DataError, UsageError, type Classifier } from '@oodkit/core';
import { fileModelIO } from './tfjs-file-io.js';

export interface TfjsModelOptions {
  /**
   * The penultimate feature: a layer name (LayersModel) or a node name (GraphModel). Default: the
   * input of the final Dense layer (LayersModel) or of the last MatMul with a constant weight (GraphModel).
   */
  readonly featuresOutput?: string;
  /**
   * The final linear layer: a Dense layer name (LayersModel) or MatMul node name (GraphModel). Its
   * output before any activation are the logits. Default: the last Dense layer / MatMul node.
   */
  readonly logitsOutput?: string;
}

/** The final layer as tensors the wrapper owns: kernel [D, C] (as tfjs stores it) and bias [C]. */
interface Head {
  readonly kernel: () => tf.Tensor2D;
  readonly bias: () => tf.Tensor1D;
}

/**
 * The Classifier protocol over a tfjs model: `trunk` maps an NHWC batch to the penultimate feature z,
 * `head` is the final linear layer read from the model, so logits = z·W + b are the final layer's
 * pre-activation (a softmax on it is dropped, as OpenOOD's methods need logits). Every op is a tf op
 * recorded on the gradient tape, so input-gradient methods (ODIN, G-ODIN-like perturbations) work.
 */
class TfjsClassifier implements Classifier {
  readonly featureDim: number;
  readonly numClasses: number;
  private disposed = false;

  constructor(
    readonly name: string,
    readonly inputShape: readonly [number, number, number],
    private readonly trunk: (x: tf.Tensor4D, training: boolean) => tf.Tensor2D,
    private readonly finalHead: Head,
    private readonly variables: { trainable: tf.Variable[]; named: ReadonlyMap<string, tf.Variable> },
    private readonly release: () => void,
  ) {
    const [d, c] = finalHead.kernel().shape;
    this.featureDim = d;
    this.numClasses = c;
  }

  private checkInput(x: tf.Tensor4D): void {
    if (this.disposed) throw new UsageError(`${this.name} was disposed`);
    const [h, w, c] = this.inputShape;
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c)
      throw new UsageError(`${this.name} expects input [N, ${h}, ${w}, ${c}] (NHWC), got [${x.shape.join(', ')}]`);
  }

  private features(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    const z = this.trunk(x, training);
    if (z.rank !== 2 || z.shape[1] !== this.featureDim)
      throw new DataError(`${this.name}: the feature output has shape [${z.shape.join(', ')}], expected [N, ${this.featureDim}]`);
    return z;
  }

  forward(x: tf.Tensor4D, training = false): tf.Tensor2D {
    this.checkInput(x);
    return tf.tidy(() => this.head(this.features(x, training)));
  }

  forwardFeatures(x: tf.Tensor4D, training = false): { logits: tf.Tensor2D; features: tf.Tensor2D } {
    this.checkInput(x);
    return tf.tidy(() => {
      const features = this.features(x, training);
      return { logits: this.head(features), features };
    });
  }

  /** A tfjs model exposes no block structure oodkit knows; the one block is the pooled feature [N, 1, 1, D]. */
  forwardBlocks(x: tf.Tensor4D): { logits: tf.Tensor2D; features: tf.Tensor2D; blocks: tf.Tensor4D[] } {
    this.checkInput(x);
    return tf.tidy(() => {
      const features = this.features(x, false);
      return { logits: this.head(features), features, blocks: [tf.reshape(features, [-1, 1, 1, this.featureDim]) as tf.Tensor4D] };
    });
  }

  forwardThreshold(x: tf.Tensor4D, threshold: number): tf.Tensor2D {
    this.checkInput(x);
    return tf.tidy(() => this.head(tf.minimum(this.features(x, false), threshold)));
  }

  head(features: tf.Tensor2D): tf.Tensor2D {
    if (features.rank !== 2 || features.shape[1] !== this.featureDim)
      throw new UsageError(`${this.name}: head expects features [N, ${this.featureDim}], got [${features.shape.join(', ')}]`);
    return tf.tidy(() => tf.add(tf.matMul(features, this.finalHead.kernel()), this.finalHead.bias()));
  }

  finalLayer(): { weight: tf.Tensor2D; bias: tf.Tensor1D } {
    return tf.tidy(() => ({ weight: tf.transpose(this.finalHead.kernel()), bias: tf.clone(this.finalHead.bias()) }));
  }

  trainableVariables(): tf.Variable[] {
    return this.variables.trainable;
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    return this.variables.named;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.release();
  }
}

function imageShape(file: string, shape: readonly (number | null)[] | undefined): readonly [number, number, number] {
  if (!shape || shape.length !== 4 || ![shape[1], shape[2], shape[3]].every((d) => typeof d === 'number' && d > 0))
    throw new UsageError(
      `${file}: the model input must be [N, H, W, C] with fixed H, W, C, got [${(shape ?? []).map((d) => d ?? '?').join(', ')}]`,
    );
  return [shape[1]!, shape[2]!, shape[3]!];
}

function layersClassifier(file: string, model: tf.LayersModel, options: TfjsModelOptions): Classifier {
  const names = model.layers.map((l) => l.name);
  const layerNamed = (name: string, option: string): tf.layers.Layer => {
    const layer = model.layers.find((l) => l.name === name);
    if (!layer) throw new UsageError(`${option}: ${file} has no layer '${name}' (layers: ${names.join(', ')})`);
    return layer;
  };
  const dense =
    options.logitsOutput !== undefined
      ? layerNamed(options.logitsOutput, 'logits_output (--logits-output)')
      : [...model.layers].reverse().find((l) => l.getClassName() === 'Dense');
  if (!dense || dense.getClassName() !== 'Dense')
    throw new UsageError(
      `${file}: ${dense ? `layer '${dense.name}' is a ${dense.getClassName()}` : 'no Dense layer'}; the final layer (W, b) must be a Dense layer (name it with logits_output, --logits-output)`,
    );
  const denseInput = dense.input;
  if (Array.isArray(denseInput) || denseInput.shape.length !== 2)
    throw new UsageError(`${file}: the final Dense layer '${dense.name}' must take one [N, D] input`);
  let features = denseInput;
  if (options.featuresOutput !== undefined) {
    const layer = layerNamed(options.featuresOutput, 'features_output (--features-output)');
    const output = layer.output;
    if (Array.isArray(output) || output.id !== denseInput.id)
      throw new UsageError(
        `features_output (--features-output): layer '${layer.name}' of ${file} does not feed the final Dense layer '${dense.name}' (its input comes from '${denseInput.sourceLayer.name}')`,
      );
    features = output;
  }
  const input = model.inputs[0];
  if (model.inputs.length !== 1 || !input) throw new UsageError(`${file}: expected one image input, the model has ${model.inputs.length}`);
  const trunk = tf.model({ inputs: input, outputs: features });
  const [kernel, bias] = dense.weights;
  if (!kernel) throw new DataError(`${file}: Dense layer '${dense.name}' has no kernel`);
  const numClasses = kernel.shape[1]!;
  const zeroBias = bias ? undefined : tf.zeros([numClasses]);
  const head: Head = {
    kernel: () => kernel.read() as tf.Tensor2D,
    bias: () => (bias ? bias.read() : zeroBias!) as tf.Tensor1D,
  };
  const named = new Map(model.weights.map((w) => [w.name, w.read() as tf.Variable]));
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return new TfjsClassifier(
    `tfjs:${file}`,
    imageShape(file, input.shape),
    (x, training) => trunk.apply(x, { training }) as tf.Tensor2D,
    head,
    { trainable, named },
    () => {
      zeroBias?.dispose();
      model.dispose();
    },
  );
}

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, { b?: boolean; list?: { s?: string[] } }>;
}

/** Node name of a GraphDef input reference (`name:0`, `^name` → `name`). */
function nodeOf(ref: string): string {
  return ref.replace(/^\^/, '').replace(/:\d+$/, '');
}

function graphClassifier(file: string, model: tf.GraphModel, nodes: GraphNode[], options: TfjsModelOptions): Classifier {
  const weights = model.weights;
  const isConst = (ref: string): boolean => weights[nodeOf(ref)] !== undefined;
  const linear = (n: GraphNode): boolean =>
    (n.op === 'MatMul' || n.op === '_FusedMatMul') && (n.input ?? []).length >= 2 && isConst(n.input![1]!) && !n.attr?.transpose_a?.b;
  let node: GraphNode | undefined;
  if (options.logitsOutput !== undefined) {
    node = nodes.find((n) => n.name === options.logitsOutput);
    if (!node || !linear(node))
      throw new UsageError(
        `logits_output (--logits-output): '${options.logitsOutput}' is not a MatMul node with a constant weight in ${file}`,
      );
  } else if (options.featuresOutput !== undefined) {
    node = [...nodes].reverse().find((n) => linear(n) && nodeOf(n.input![0]!) === options.featuresOutput);
  } else {
    node = [...nodes].reverse().find(linear);
  }
  if (!node)
    throw new UsageError(
      options.featuresOutput !== undefined
        ? `features_output (--features-output): no MatMul with a constant weight takes node '${options.featuresOutput}' of ${file} as input`
        : `${file}: no MatMul node with a constant weight, so the final layer (W, b) cannot be read`,
    );
  const featureNode = options.featuresOutput ?? nodeOf(node.input![0]!);
  if (!nodes.some((n) => n.name === featureNode))
    throw new UsageError(`features_output (--features-output): ${file} has no node '${featureNode}'`);
  const owned: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    owned.push(t);
    return t;
  };
  const rawKernel = weights[nodeOf(node.input![1]!)]![0]!;
  if (rawKernel.rank !== 2) throw new DataError(`${file}: weight of '${node.name}' has rank ${rawKernel.rank}, expected 2`);
  const kernel = keep(node.attr?.transpose_b?.b ? tf.transpose(rawKernel) : tf.clone(rawKernel)) as tf.Tensor2D;
  const numClasses = kernel.shape[1];
  // The bias: the third input of a _FusedMatMul with BiasAdd, or a BiasAdd/Add of a constant on the MatMul.
  let biasRef: string | undefined;
  if (node.op === '_FusedMatMul' && (node.attr?.fused_ops?.list?.s ?? []).map((s) => atob(s)).includes('BiasAdd')) biasRef = node.input![2];
  else {
    const add = nodes.find(
      (n) => (n.op === 'BiasAdd' || n.op === 'Add' || n.op === 'AddV2') && (n.input ?? []).some((i) => nodeOf(i) === node!.name),
    );
    biasRef = add?.input?.find((i) => nodeOf(i) !== node!.name && isConst(i));
  }
  const bias = keep(biasRef ? tf.reshape(weights[nodeOf(biasRef)]![0]!, [numClasses]) : tf.zeros([numClasses])) as tf.Tensor1D;
  const input = model.inputs[0];
  if (model.inputs.length !== 1 || !input) throw new UsageError(`${file}: expected one image input, the model has ${model.inputs.length}`);
  return new TfjsClassifier(
    `tfjs:${file}`,
    imageShape(file, input.shape),
    (x) => {
      const z = model.execute({ [input.name]: x }, featureNode) as tf.Tensor;
      return (z.rank === 2 ? z : tf.reshape(z, [z.shape[0]!, -1])) as tf.Tensor2D;
    },
    { kernel: () => kernel, bias: () => bias },
    { trainable: [], named: new Map() },
    () => {
      for (const t of owned) t.dispose();
      model.dispose();
    },
  );
}

/**
 * A tfjs model from its `model.json` (LayersModel, or GraphModel as written by tensorflowjs_converter),
 * read from disk, as a Classifier with a named feature layer/node.
 */
export async function loadTfjsModel(path: string, options: TfjsModelOptions = {}): Promise<Classifier> {
  const file = resolve(path);
  const io = fileModelIO(file);
  let format: string | undefined;
  let topology: unknown;
  try {
    const json = JSON.parse(await readFile(file, 'utf8')) as { format?: string; modelTopology?: unknown };
    format = json.format;
    topology = json.modelTopology;
  } catch {
    // fileModelIO's load names the problem.
    await io.load!();
  }
  const nodes = (topology as { node?: GraphNode[] } | undefined)?.node;
  if (format === 'graph-model' || Array.isArray(nodes)) {
    const model = await tf.loadGraphModel(io);
    try {
      return graphClassifier(file, model, nodes ?? [], options);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  const model = await tf.loadLayersModel(io);
  try {
    return layersClassifier(file, model, options);
  } catch (error) {
    model.dispose();
    throw error;
  }
}
