import { basename, extname, resolve } from 'node:path';
import { ConfigError, UsageError, type BuildContext, type Classifier, type ComponentRegistry, type Logger } from '@oodkit/core';
import type { LoadedBenchmark } from '@oodkit/data';
import { FeatureFolder } from '@oodkit/evaluators';
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
  /** Features of every split, when the source is (or comes with) a feature folder. */
  readonly folder?: FeatureFolder;
  /** Releases what the opener created (never a caller-owned network). */
  dispose(): void;
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
    return { label: stem(source.checkpoint), network, dispose: () => network.dispose() };
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
    return { label: stem(source.checkpoint), network, dispose: () => network.dispose() };
  },
  classifier: async (source) => ({ label: source.label ?? source.network.name, network: source.network, dispose: () => undefined }),
  features: async (source) => ({
    label: basename(resolve(source.folder)),
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
  const { network } = model;
  if (network && ctx.benchmark && network.numClasses !== ctx.benchmark.config.num_classes) {
    model.dispose();
    throw new UsageError(
      `the ${source.kind} model's network has ${network.numClasses} classes, benchmark '${ctx.benchmark.config.name}' has ${ctx.benchmark.config.num_classes}`,
    );
  }
  return model;
}

/**
 * Whether a source gives a network that methods needing one (ODIN: input gradients) can run on. A new
 * kind that gives only logits/features (an inference-only runtime) answers false here.
 */
export function sourceProvidesNetwork(source: ModelSource): boolean {
  return source.kind !== 'features';
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
