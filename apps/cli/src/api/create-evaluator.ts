import { computeOptionsFrom, initCompute } from '@oodkit/compute';
import { Rng, UsageError, type Classifier, type ConfigOverride } from '@oodkit/core';
import { loadBenchmark } from '@oodkit/data';
import { evaluationToJson, type OodEvaluationJson, type PercentRow } from '@oodkit/evaluators';
import { buildEvaluator, evaluateModel, type ModelSource, type NetworkSpec, type PostprocessorRequest } from '@oodkit/pipelines';
import { flagOverride, inputsFrom } from '../shared/options.js';
import { loadRunFromInputs } from '../shared/run-config.js';

export interface CreateEvaluatorOptions {
  /** oodkit's .ckpt, or with `network` a PyTorch checkpoint (torch.save(state_dict)) / safetensors file. */
  readonly checkpoint?: string;
  /** The registered network a PyTorch checkpoint was saved from (name or `{name, args}`), or a Classifier in memory. */
  readonly network?: string | NetworkSpec | Classifier;
  /** A model exported to ONNX (`torch.onnx.export`): feature-based methods only (no input gradients). */
  readonly onnx?: string;
  /** A tfjs `model.json` (LayersModel or GraphModel): a full network, gradient methods included. */
  readonly tfjs?: string;
  /** onnx: the graph value of the logits; tfjs: the final Dense layer / MatMul node (default: the last linear layer). */
  readonly logitsOutput?: string;
  /** onnx: the graph value fed to the final layer; tfjs: the penultimate feature's layer / node (default: the final layer's input). */
  readonly featuresOutput?: string;
  /** onnx: onnxruntime's intra-op threads. */
  readonly threads?: number;
  /** A feature folder instead of a model (feature-only methods). */
  readonly features?: string;
  /** A shipped benchmark name, a YAML file or a mapping (required unless `features`). */
  readonly benchmark?: string | Readonly<Record<string, unknown>>;
  /** A registered postprocessor: its name or `{name, args, grid}`. */
  readonly postprocessor:
    string | { readonly name: string; readonly args?: Record<string, unknown>; readonly grid?: Record<string, unknown[]> };
  /** OpenOOD's APS: search the postprocessor's grid on ID val vs OOD val first. */
  readonly aps?: boolean;
  /** The config's `data_dir`: root of the benchmark's relative paths (OpenOOD's data root). */
  readonly dataDir?: string;
  /** Any other config keys, as `--key.path=value` would set them (`{ seed: 1, 'compute.backend': 'cpu', log_level: 'warn' }`). */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Config files merged first (`-c`), and plugins to load (`-p`). */
  readonly configFiles?: readonly string[];
  readonly plugins?: readonly string[];
}

/** OpenOOD v1.5's `Evaluator` for oodkit: `await createEvaluator({...})`, then `await ev.evalOod()`. */
export interface OodkitEvaluator {
  /** OpenOOD's metrics table: one row per OOD dataset and the near/far means, values ×100 (FPR@95, AUROC, AUPR_IN, AUPR_OUT, ACC, PRED_ACC). */
  evalOod(): Promise<PercentRow[]>;
  /** The whole evaluation of the last `evalOod()` (hyperparameters, APS trials, extended metrics), as `<pp>__metrics.json` holds it. */
  readonly result: OodEvaluationJson | undefined;
}

function isClassifier(value: unknown): value is Classifier {
  return typeof value === 'object' && value !== null && typeof (value as Classifier).forwardFeatures === 'function';
}

/**
 * The programmatic form of `oodkit eval` (same config loading, evaluator, one evaluation path), writing
 * nothing: the config is the options turned into keys (`benchmark`, `data_dir`, `postprocessor`, then
 * `config`), validated as a command's would be.
 */
export async function createEvaluator(options: CreateEvaluatorOptions): Promise<OodkitEvaluator> {
  const inMemory = isClassifier(options.network) ? options.network : undefined;
  const given = [options.checkpoint, options.onnx, options.tfjs, options.features, inMemory].filter((x) => x !== undefined);
  if (given.length !== 1)
    throw new UsageError(
      'createEvaluator needs exactly one model: checkpoint (with network for a PyTorch file), onnx, tfjs, features, or network as a Classifier',
    );
  if (options.network !== undefined && !inMemory && options.checkpoint === undefined)
    throw new UsageError('createEvaluator: network (a name) is the architecture of a PyTorch checkpoint; give checkpoint with it');
  const imported = options.onnx !== undefined || options.tfjs !== undefined;
  const misplaced = (['logitsOutput', 'featuresOutput', 'threads'] as const).find((k) => options[k] !== undefined);
  if (misplaced && (!imported || (misplaced === 'threads' && options.onnx === undefined)))
    throw new UsageError(
      `createEvaluator: ${misplaced} applies to ${misplaced === 'threads' ? 'an onnx model' : 'an onnx or tfjs model'} only`,
    );
  const preset: ConfigOverride[] = [
    flagOverride('log_level', 'warn', 'createEvaluator'),
    ...(options.benchmark !== undefined ? [flagOverride('benchmark', options.benchmark, 'benchmark')] : []),
    ...(options.dataDir !== undefined ? [flagOverride('data_dir', options.dataDir, 'dataDir')] : []),
    flagOverride('postprocessor', options.postprocessor, 'postprocessor'),
    ...Object.entries(options.config ?? {}).map(([path, value]) => flagOverride(path, value, `config.${path}`)),
  ];
  const run = await loadRunFromInputs(inputsFrom({ config: options.configFiles, plugins: options.plugins }), {
    preset,
    requireFiles: false,
  });
  const config = run.config.value;
  const registry = run.app.registry;
  await initCompute({ ...computeOptionsFrom(config.compute), logger: run.logger });

  const names = {
    ...(options.logitsOutput !== undefined ? { logitsOutput: options.logitsOutput } : {}),
    ...(options.featuresOutput !== undefined ? { featuresOutput: options.featuresOutput } : {}),
  };
  let source: ModelSource;
  if (options.features !== undefined) source = { kind: 'features', folder: options.features };
  else if (inMemory) source = { kind: 'classifier', network: inMemory };
  else if (options.onnx !== undefined)
    source = { kind: 'onnx', path: options.onnx, ...names, ...(options.threads !== undefined ? { threads: options.threads } : {}) };
  else if (options.tfjs !== undefined) source = { kind: 'tfjs', path: options.tfjs, ...names };
  else if (options.network !== undefined)
    source = {
      kind: 'torch',
      checkpoint: options.checkpoint!,
      network: typeof options.network === 'string' ? { name: options.network } : (options.network as NetworkSpec),
    };
  else source = { kind: 'trained', checkpoint: options.checkpoint! };

  const benchmark =
    source.kind === 'features' || config.benchmark === undefined
      ? undefined
      : await loadBenchmark(config.benchmark, registry, { logger: run.logger, rng: Rng.fromSeed(0), config });
  const section = config.postprocessor as { name: string; args?: Record<string, unknown>; grid?: Record<string, unknown[]> };
  const postprocessor: PostprocessorRequest = {
    name: section.name,
    args: section.args ?? {},
    ...(section.grid !== undefined ? { grid: section.grid } : {}),
  };
  let result: OodEvaluationJson | undefined;
  return {
    get result() {
      return result;
    },
    async evalOod() {
      const evaluator = await buildEvaluator(registry, config, run.buildContext('evaluator'));
      const evaluated = await evaluateModel({
        source,
        benchmark,
        postprocessors: [postprocessor],
        evaluator,
        aps: options.aps ?? false,
        registry,
        config,
        logger: run.logger,
      });
      result = evaluationToJson(evaluated.evaluations[0]!);
      return result.rows;
    },
  };
}
