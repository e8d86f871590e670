import { defineComponent, type BuildContext, type ComponentRegistry, type Logger, type Postprocessor } from '@oodkit/core';
import { z } from 'zod';
import type { HyperparameterGrid } from '../search/aps.js';
import { evaluateOod, type OodEvaluation } from './evaluate.js';
import { writeOodEvaluation, type WrittenEvaluation } from './report.js';
import type { FeatureSource } from './source.js';

export const oodEvaluatorArgs = z.strictObject({
  /** Search the postprocessor's grid on ID val vs OOD val before testing (OpenOOD's APS). */
  aps: z.boolean().default(false),
  /** TPR level of the FPR metric. */
  tpr: z.number().gt(0).lte(1).default(0.95),
  /** Save per-sample scores as .npy next to the tables. */
  save_scores: z.boolean().default(true),
  /**
   * OpenOOD's full-spectrum OOD (`fsood`): the benchmark's CSID sets count as ID (concatenated to ID
   * test against every OOD set and in ACC) and are reported one by one; off, they are not scored.
   */
  fsood: z.boolean().default(false),
});
export type OodEvaluatorArgs = z.infer<typeof oodEvaluatorArgs>;

/** The registered grid of a postprocessor (empty when it has none). */
export function registeredGrid(registry: ComponentRegistry, postprocessor: string): HyperparameterGrid {
  if (!registry.has('postprocessor', postprocessor)) return {};
  return (registry.get('postprocessor', postprocessor).grid ?? {}) as HyperparameterGrid;
}

/**
 * The grid APS searches: the registered grid with the configured `grid:` lists in place of the
 * registered lists of the same arguments (as an override of OpenOOD's `postprocessor_sweep` keeps
 * the other keys); arguments only the configured grid names come last. `[v]` pins one value.
 */
export function apsGrid(registry: ComponentRegistry, postprocessor: string, configured?: HyperparameterGrid): HyperparameterGrid {
  return { ...registeredGrid(registry, postprocessor), ...(configured ?? {}) };
}

/** What a caller may set per evaluation, over the evaluator's own args. */
export interface EvaluateOptions {
  /** Replaces the registered lists of the arguments it names (see `apsGrid`); used only with APS. */
  readonly grid?: HyperparameterGrid;
  /** Overrides the evaluator's `aps` argument (a command's `--aps`, a bench entry's `aps`). */
  readonly aps?: boolean;
}

/**
 * What the one evaluation path (libs/pipelines `evaluateModel`) asks of a registered evaluator
 * (`evaluator:` config key, built by name): evaluate one postprocessor on a source, write the result.
 */
export interface Evaluator {
  evaluate(postprocessor: Postprocessor, source: FeatureSource, options?: EvaluateOptions): Promise<OodEvaluation>;
  write(outDir: string, evaluation: OodEvaluation, options?: { saveScores?: boolean }): Promise<unknown>;
}

/** The `ood` evaluator: OpenOOD's test_ood stage for one postprocessor at a time. */
export class OodEvaluator implements Evaluator {
  constructor(
    readonly args: OodEvaluatorArgs,
    private readonly registry: ComponentRegistry | undefined,
    private readonly logger?: Logger,
  ) {}

  evaluate(postprocessor: Postprocessor, source: FeatureSource, options: EvaluateOptions = {}): Promise<OodEvaluation> {
    const { grid } = options;
    const aps = options.aps ?? this.args.aps;
    const searched = aps ? (this.registry ? apsGrid(this.registry, postprocessor.name, grid) : (grid ?? {})) : undefined;
    return evaluateOod({ postprocessor, source, apsGrid: searched, tpr: this.args.tpr, fsood: this.args.fsood, logger: this.logger });
  }

  write(outDir: string, evaluation: OodEvaluation, options: { saveScores?: boolean } = {}): Promise<WrittenEvaluation> {
    return writeOodEvaluation(outDir, evaluation, { saveScores: options.saveScores ?? this.args.save_scores });
  }
}

export const oodEvaluatorDefinition = defineComponent({
  kind: 'evaluator',
  name: 'ood',
  description:
    "OOD detection metrics (fsood: CSID counted as ID and reported per set; FPR@95, AUROC, AUPR-IN/OUT; ACC = the classifier's, PRED_ACC = the method's; AUTC, OSCR, CCR@FPR, AURRA, detection error) per near/far dataset, optional APS",
  args: oodEvaluatorArgs,
  create: (args, ctx: BuildContext) => new OodEvaluator(args, ctx.registry, ctx.logger),
});
