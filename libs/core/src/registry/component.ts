import type { z } from 'zod';
import type { ComponentKind } from './kinds.js';
import type { BuildContext } from './build-context.js';

/** Search grid: for each hyperparameter, the values tried in order (first parameter varies fastest). */
export type SearchGrid<A> = { [K in keyof A]?: readonly A[K][] };

/**
 * What a library contributes for one component: its name, its typed arguments (a zod object whose
 * defaults are the method's defaults), an optional hyperparameter grid and the factory.
 */
export interface ComponentDefinition<S extends z.ZodObject = z.ZodObject, P = unknown, K extends ComponentKind = ComponentKind> {
  readonly kind: K;
  readonly name: string;
  /** One line, shown by `oodkit list`. */
  readonly description: string;
  readonly args: S;
  readonly grid?: SearchGrid<z.infer<S>>;
  /**
   * Networks: the feature layers a built instance exposes (its block names, then 'penultimate'), in
   * OpenOOD's `return_feature_list` order; what multi-layer configs are checked against.
   */
  readonly featureLayers?: readonly string[];
  /**
   * Postprocessors: the method scores any feature layer (it fits on features and labels only, never
   * on the final layer), so `{name, layers: [...], aggregator}` may run it per layer.
   */
  readonly layerwise?: boolean;
  /**
   * Postprocessors: the `layers` argument names feature layers the method reads from its feature
   * source (dknn), so evaluation extracts them (pooled) with z. Other methods' `layers` (nac's
   * coverage layers, mds_ensemble's blocks through the network) are not feature-source layers.
   */
  readonly layersArg?: boolean;
  create(args: z.infer<S>, ctx: BuildContext): P | Promise<P>;
}

// The loose alias lets heterogeneous definitions share one array without losing their own typing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyComponentDefinition = ComponentDefinition<any, any, ComponentKind>;

/** Identity helper that keeps the literal types of a definition. */
export function defineComponent<S extends z.ZodObject, P, K extends ComponentKind>(
  definition: ComponentDefinition<S, P, K>,
): ComponentDefinition<S, P, K> {
  return definition;
}

/** A definition together with the package (or plugin path) that contributed it. */
export interface ContributedDefinition {
  readonly provider: string;
  readonly definition: AnyComponentDefinition;
}

/** A config section that selects and parameterises one component. */
export interface ComponentSection {
  name: string;
  args?: Record<string, unknown>;
}
