import {
  DataError,
  UsageError,
  defineComponent,
  type BuildContext,
  type ComponentDefinition,
  type FeatureSplit,
  type Postprocessor,
  type PostprocessorSetupData,
  type ScoreBatch,
  type ScoreResult,
  type ScoringModel,
  type SearchGrid,
  type SetupRole,
} from '@oodkit/core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import type { z } from 'zod';
import { LinearHead } from '../math/head.js';
import { foldGrid, type GridFolds, type PartialGrid } from './grid.js';
import { mergeHyperparameters } from './hyperparameters.js';

/**
 * Common lifecycle of a postprocessor: typed args, `setup` fits hyperparameter-independent state
 * (`fit`) and then derives what depends on hyperparameters (`derive`); `setHyperparameters`
 * re-runs `derive`, so no cached state can go stale (OpenOOD's ReAct/DICE/ViM bug).
 */
export abstract class BasePostprocessor<S extends z.ZodObject> implements Postprocessor {
  abstract readonly name: string;
  readonly needsNetwork: boolean = false;
  readonly networkUse?: string;
  readonly requires: readonly SetupRole[] = [];
  protected args: z.infer<S>;
  private linearHead?: LinearHead;
  private ready = false;

  constructor(
    protected readonly schema: S,
    args: z.infer<S>,
  ) {
    this.args = args;
  }

  async setup(model: ScoringModel, data: PostprocessorSetupData): Promise<void> {
    if (this.needsNetwork && !model.network) {
      throw new UsageError(
        `${this.name} needs the network (${this.networkUse ?? 'not only its features'}); it cannot run on a feature folder`,
      );
    }
    this.releaseState();
    this.linearHead = new LinearHead(model.finalLayer);
    await this.fit(model, data);
    await this.derive();
    this.ready = true;
  }

  async setHyperparameters(values: Record<string, unknown>): Promise<void> {
    this.args = mergeHyperparameters(this.schema, this.args, values, this.name);
    if (this.ready) await this.derive();
  }

  hyperparameters(): Record<string, unknown> {
    return { ...this.args };
  }

  /**
   * The grid as it applies to the fitted model: grid values the method maps to one effective value
   * (declared by `gridFolds`) become one grid point. Before `setup` the grid is returned unchanged.
   */
  searchGrid(grid: PartialGrid): Record<string, readonly unknown[]> {
    return foldGrid(grid, this.ready ? this.gridFolds() : {});
  }

  async score(batch: ScoreBatch): Promise<ScoreResult> {
    if (!this.ready) throw new UsageError(`${this.name}: call setup(model, data) before scoring`);
    return this.scoreBatch(batch);
  }

  dispose(): void {
    this.releaseState();
    this.ready = false;
  }

  protected get isFitted(): boolean {
    return this.ready;
  }

  /** The final layer as tensors (available from `fit` on). */
  protected get head(): LinearHead {
    if (!this.linearHead) throw new UsageError(`${this.name}: call setup(model, data) before scoring`);
    return this.linearHead;
  }

  /** Batch features, checked against the final layer's width. */
  protected features(batch: ScoreBatch): Tensor2D {
    this.head.checkFeatures(batch.features);
    return batch.features;
  }

  /** Hyperparameter-independent state from ID data (default: none). */
  protected async fit(_model: ScoringModel, _data: PostprocessorSetupData): Promise<void> {
    // stateless methods have nothing to fit
  }

  /** State that depends on hyperparameters; runs after `fit` and after every hyperparameter change. */
  protected async derive(): Promise<void> {
    // nothing depends on hyperparameters by default
  }

  /** Per hyperparameter, the value a grid value takes on the fitted model (default: every value is its own). */
  protected gridFolds(): GridFolds {
    return {};
  }

  /** Dispose tensors of fitted state (subclasses extend and call super). */
  protected releaseState(): void {
    this.linearHead?.dispose();
    this.linearHead = undefined;
  }

  protected abstract scoreBatch(batch: ScoreBatch): Promise<ScoreResult>;
}

/**
 * The split a method fits on; missing or empty is the caller's error, named clearly, and so is a
 * non-finite feature. With `finiteCheck: 'deferred'` the caller checks finiteness itself, through a
 * product that turns any NaN or ±Infinity into a non-finite result, and calls `assertFiniteSplit`
 * when it sees one (vim: the second moment's diagonal; one pass over the split fewer).
 */
export function requireSplit(
  data: PostprocessorSetupData,
  role: SetupRole,
  method: string,
  dim: number,
  options: { finiteCheck?: 'now' | 'deferred' } = {},
): FeatureSplit {
  const split = data[role];
  if (!split) throw new UsageError(`${method} fits on the ID ${role} split, but setup received none`);
  if (split.count === 0) throw new DataError(`${method}: the ID ${role} split '${split.name}' is empty`);
  if (split.dim !== dim) {
    throw new DataError(`${method}: ${role} split '${split.name}' has feature dim ${split.dim}, the final layer expects ${dim}`);
  }
  if (split.features.length !== split.count * split.dim) {
    throw new DataError(
      `${method}: ${role} split '${split.name}' holds ${split.features.length} values, expected ${split.count}×${split.dim}`,
    );
  }
  if (options.finiteCheck !== 'deferred') assertFiniteSplit(split, role, method);
  return split;
}

/** A DataError naming the first non-finite feature of the split (sample and dim), if it has one. */
export function assertFiniteSplit(split: FeatureSplit, role: SetupRole, method: string): void {
  const f = split.features;
  const i = firstNonFinite(f);
  if (i >= 0) {
    const row = Math.floor(i / split.dim);
    throw new DataError(
      `${method}: ${role} split '${split.name}' has a non-finite feature (${f[i]}) at sample ${row}, dim ${i - row * split.dim}`,
    );
  }
}

/** Values per block of `firstNonFinite`'s sum. */
const FINITE_BLOCK = 65536;

/**
 * Index of the first NaN or ±Infinity in `values`, or −1. x·0 is ±0 for every finite x and NaN
 * otherwise, so a block's sum of x·0 is zero exactly when the block is finite: one multiply-add per
 * value instead of a call per value (a third faster on a 50,000 × 512 split); only a block whose sum
 * is not zero is searched value by value.
 */
export function firstNonFinite(values: Float32Array): number {
  for (let start = 0; start < values.length; start += FINITE_BLOCK) {
    const end = Math.min(values.length, start + FINITE_BLOCK);
    let sum = 0;
    for (let i = start; i < end; i++) sum += values[i]! * 0;
    if (sum !== 0) for (let i = start; i < end; i++) if (!Number.isFinite(values[i])) return i;
  }
  return -1;
}

/** What a postprocessor file declares beside its class: name, one-line description, args schema, grid. */
export interface PostprocessorSpec<S extends z.ZodObject> {
  readonly name: string;
  readonly description: string;
  readonly args: S;
  readonly grid?: SearchGrid<z.infer<S>>;
  /** The method fits on features and labels only, so it may run on any feature layer (`layers: [...]`). */
  readonly layerwise?: boolean;
  /** The `layers` argument names feature layers read from the feature source (extracted pooled with z). */
  readonly layersArg?: boolean;
}

/** A postprocessor class as `definePostprocessor` builds it. */
export type PostprocessorClass<S extends z.ZodObject, P extends Postprocessor> = new (schema: S, args: z.infer<S>, ctx: BuildContext) => P;

/**
 * The registry definition of a postprocessor class: the instance is built with the definition's own
 * args schema (so the schema hyperparameter changes are validated against is the one the config was),
 * the parsed args and the build context (seeded `rng`, logger).
 */
export function definePostprocessor<S extends z.ZodObject, P extends Postprocessor>(
  spec: PostprocessorSpec<S>,
  implementation: PostprocessorClass<S, P>,
): ComponentDefinition<S, P, 'postprocessor'> {
  return defineComponent({ kind: 'postprocessor', ...spec, create: (args, ctx) => new implementation(spec.args, args, ctx) });
}
