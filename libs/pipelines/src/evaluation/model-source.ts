import { basename, extname, resolve } from 'node:path';
import {
  ConfigError,
  UsageError,
  type BuildContext,
  type Classifier,
  type ComponentRegistry,
  type Logger,
  type Postprocessor,
} from '@oodkit/core';
import type { LoadedBenchmark } from '@oodkit/data';
import { FeatureFolder } from '@oodkit/evaluators';
import { OnnxModel, assertOnnxSupports, loadTfjsModel, type InferenceModel } from '@oodkit/networks';
import { loadTrainedNetwork } from '../train/restore.js';

/** `{name, args}` of a registered network. */
export interface NetworkSpec {
  readonly name: string;
  readonly args?: Readonly<Record<string, unknown>>;
}

/**
 * What a model to evaluate comes from. A discriminated union: a new kind (ONNX, tfjs) is one more
 * member here plus one opener in {@link MODEL_OPENERS} (the table's type makes a kind without an
 * opener a compile error); everything after opening — feature extraction once per model, the
 * network for methods that need it, the evaluator, the output layout — is shared.
 */
export type ModelSource =
  /** A checkpoint written by `oodkit train` (.ckpt): the network is rebuilt from the config stored in it. */
  | { readonly kind: 'trained'; readonly checkpoint: string }
  /**
   * A PyTorch checkpoint (`torch.save(state_dict)`, DataParallel/wrapped/legacy) or a safetensors file
   * for a registered network with OpenOOD's parameter names. `num_classes` and `in_channels` default to
   * the benchmark's when the network has those args and the spec leaves them out.
   */
  | {
      readonly kind: 'torch';
      readonly checkpoint: string;
      readonly network: NetworkSpec;
      /** Key of the state_dict inside a wrapping dict (default: found by the usual names). */
      readonly key?: string;
      /** load_state_dict(strict) (default true). */
      readonly strict?: boolean;
    }
  /**
   * A model exported to ONNX (`torch.onnx.export`), run by onnxruntime-node: inference only (logits,
   * features, W and b), so only feature-based methods run on it.
   */
  | {
      readonly kind: 'onnx';
      readonly path: string;
      /** The graph value holding the logits (default: the final Gemm/MatMul's output). */
      readonly logitsOutput?: string;
      /** The graph value fed to the final layer (default: the final Gemm/MatMul's input). */
      readonly featuresOutput?: string;
      /** onnxruntime's intra-op threads. */
      readonly threads?: number;
    }
  /**
   * A tfjs `model.json` (LayersModel or GraphModel) with a named feature layer/node: a full network of
   * tf ops, so gradient methods (ODIN) run on it too.
   */
  | { readonly kind: 'tfjs'; readonly path: string; readonly logitsOutput?: string; readonly featuresOutput?: string }
  /** A network already in memory (programmatic use, tests); the caller keeps ownership. */
  | { readonly kind: 'classifier'; readonly network: Classifier; readonly label?: string }
  /** A feature folder (`oodkit feat-extract`): feature-only methods, no network. */
  | { readonly kind: 'features'; readonly folder: string };

export type ModelSourceKind = ModelSource['kind'];

/** A source, opened: the network (when the source has one) or a feature folder. */
export interface OpenedModel {
  /** Short name for default output folders: the checkpoint's or folder's file name. */
  readonly label: string;
  /** The classifier; absent for sources that only give features. */
  readonly network?: Classifier;
  /** An inference-only model (ONNX): its features are extracted, no method gets a network. */
  readonly inference?: InferenceModel;
  /** Features of every split, when the source is (or comes with) a feature folder. */
  readonly folder?: FeatureFolder;
  /** Releases what the opener created (never a caller-owned network). */
  dispose(): void | Promise<void>;
}

export interface OpenContext {
  readonly registry: ComponentRegistry;
  readonly logger: Logger;
  readonly buildContext: Omit<BuildContext, 'registry'>;
  /** The benchmark the model is evaluated on, when there is one (feature folders bring their own splits). */
  readonly benchmark?: LoadedBenchmark;
}

type Opener<K extends ModelSourceKind> = (source: Extract<ModelSource, { kind: K }>, ctx: OpenContext) => Promise<OpenedModel>;

function stem(path: string): string {
  const name = basename(resolve(path));
  return name.slice(0, name.length - extname(name).length) || name;
}

/**
 * A source's short name, for default output folders: the model file's name without its ending (a tfjs
 * `model.json`: the folder holding it, as every tfjs export is called model.json), the folder's name,
 * or an in-memory network's label.
 */
export function sourceLabel(source: ModelSource): string {
  switch (source.kind) {
    case 'features':
      return basename(resolve(source.folder));
    case 'classifier':
      return stem(source.label ?? source.network.name);
    case 'tfjs':
      return basename(resolve(source.path)) === 'model.json' ? basename(resolve(source.path, '..')) : stem(source.path);
    case 'onnx':
      return stem(source.path);
    default:
      return stem(source.checkpoint);
  }
}

/** Network args from the benchmark for what the spec leaves out, where the network has such an arg. */
export function networkArgsFor(registry: ComponentRegistry, spec: NetworkSpec, benchmark?: LoadedBenchmark): Record<string, unknown> {
  const args: Record<string, unknown> = { ...(spec.args ?? {}) };
  if (!benchmark) return args;
  const shape = (registry.get('network', spec.name, 'network').args as { shape?: Record<string, unknown> }).shape ?? {};
  if ('num_classes' in shape && args.num_classes === undefined) args.num_classes = benchmark.config.num_classes;
  if ('in_channels' in shape && args.in_channels === undefined) args.in_channels = benchmark.config.image_shape[2];
  return args;
}

/** One opener per source kind; add a kind to {@link ModelSource} and its opener here. */
export const MODEL_OPENERS: { readonly [K in ModelSourceKind]: Opener<K> } = {
  trained: async (source, ctx) => {
    const { network } = await loadTrainedNetwork(source.checkpoint, ctx.registry, ctx.logger);
    return { label: sourceLabel(source), network, dispose: () => network.dispose() };
  },
  torch: async (source, ctx) => {
    if (!ctx.registry.has('network', source.network.name)) {
      throw new UsageError(
        `network '${source.network.name}' is not registered (networks: ${ctx.registry.names('network').join(', ')}); ` +
          'name the architecture the PyTorch checkpoint was saved from',
      );
    }
    const args = {
      ...networkArgsFor(ctx.registry, source.network, ctx.benchmark),
      checkpoint: source.checkpoint,
      ...(source.key !== undefined ? { checkpoint_key: source.key } : {}),
      ...(source.strict !== undefined ? { checkpoint_strict: source.strict } : {}),
    };
    const network = await ctx.registry.build<Classifier>(
      'network',
      { name: source.network.name, args } as never,
      ctx.buildContext,
      'network',
    );
    return { label: sourceLabel(source), network, dispose: () => network.dispose() };
  },
  onnx: async (source, ctx) => {
    const model = await OnnxModel.load(source.path, source);
    const d = model.describe();
    ctx.logger.info(
      `onnx ${source.path}: logits '${d.logitsOutput}', features '${d.featuresOutput}', final layer ${d.finalLayerOp} '${d.finalLayerNode}'`,
    );
    return { label: sourceLabel(source), inference: model, dispose: () => model.dispose() };
  },
  tfjs: async (source) => {
    const network = await loadTfjsModel(source.path, source);
    return { label: sourceLabel(source), network, dispose: () => network.dispose() };
  },
  classifier: async (source) => ({ label: sourceLabel(source), network: source.network, dispose: () => undefined }),
  features: async (source) => ({
    label: sourceLabel(source),
    folder: await FeatureFolder.open(source.folder),
    dispose: () => undefined,
  }),
};

/** Opens a source with its kind's opener; checks the network against the benchmark. */
export async function openModel(source: ModelSource, ctx: OpenContext): Promise<OpenedModel> {
  const opener = MODEL_OPENERS[source.kind] as Opener<ModelSourceKind> | undefined;
  if (!opener)
    throw new UsageError(
      `unknown model source kind '${(source as { kind: string }).kind}' (kinds: ${Object.keys(MODEL_OPENERS).join(', ')})`,
    );
  const model = await opener(source as never, ctx);
  const network = model.network ?? model.inference;
  if (network && ctx.benchmark && network.numClasses !== ctx.benchmark.config.num_classes) {
    await model.dispose();
    throw new UsageError(
      `the ${source.kind} model's network has ${network.numClasses} classes, benchmark '${ctx.benchmark.config.name}' has ${ctx.benchmark.config.num_classes}`,
    );
  }
  return model;
}

/**
 * Whether a source gives a network that methods needing one (ODIN: input gradients) can run on: not a
 * feature folder, not an inference-only runtime (ONNX).
 */
export function sourceProvidesNetwork(source: ModelSource): boolean {
  return source.kind !== 'features' && source.kind !== 'onnx';
}

/** Why a postprocessor that needs the network cannot run on a source without one (undefined: it can). */
export function networkRefusal(
  source: ModelSource,
  postprocessor: Pick<Postprocessor, 'name' | 'needsNetwork' | 'networkUse'>,
): string | undefined {
  if (!postprocessor.needsNetwork || sourceProvidesNetwork(source)) return undefined;
  if (source.kind === 'onnx') {
    try {
      assertOnnxSupports(postprocessor);
    } catch (error) {
      // The message starts with the method's name, which the caller already says.
      return (error as Error).message.replace(new RegExp(`^${postprocessor.name} `), '');
    }
  }
  return `needs the network (${postprocessor.networkUse ?? 'not only its features'}); a feature folder has only penultimate features — evaluate it from a trained model or a checkpoint instead`;
}

/** Whether a source needs a benchmark (its images go through the network). */
export function sourceNeedsBenchmark(source: ModelSource): boolean {
  return source.kind !== 'features';
}

/** The benchmark is required for a source whose images go through a network. */
export function requireBenchmarkFor(source: ModelSource, benchmark: LoadedBenchmark | undefined): void {
  if (sourceNeedsBenchmark(source) && !benchmark)
    throw new ConfigError([
      {
        path: 'benchmark',
        message: `required: the benchmark whose splits go through the ${source.kind} model's network (a shipped name, a YAML path or a mapping)`,
      },
    ]);
}
