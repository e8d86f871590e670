import { ConfigError, normalizeSection, type BuildContext, type ComponentRegistry, type ComponentSection } from '@oodkit/core';
import { isClassificationEvaluator, type ClassificationEvaluator } from './classification/outputs.js';
import { OodEvaluator } from './ood/ood-evaluator.js';

/** The two evaluator families: OOD scoring (`ood`) and classifier outputs (`acc`, `ece`). */
export type EvaluatorFamily = 'ood' | 'classification';

export interface BuildEvaluatorOptions {
  /** The evaluator used when the config has no `evaluator:` section. */
  readonly defaultName: string;
  /** Config path named in errors (default `evaluator`). */
  readonly path?: string;
}

/**
 * Builds the `evaluator: {name, args}` section (a name alone is allowed; `undefined` builds
 * `options.defaultName` with default args) through the registry, so plugins' evaluators are found
 * and args are validated against the component's schema with the path in every issue.
 */
export async function buildEvaluator(
  registry: ComponentRegistry,
  section: ComponentSection | string | undefined,
  ctx: Omit<BuildContext, 'registry'>,
  options: BuildEvaluatorOptions,
): Promise<unknown> {
  return registry.build('evaluator', section ?? { name: options.defaultName, args: {} }, ctx, options.path ?? 'evaluator');
}

function wrongFamily(section: ComponentSection | string | undefined, path: string, wanted: EvaluatorFamily, stage: string): ConfigError {
  const name = section === undefined ? '?' : normalizeSection(section).name;
  const examples = wanted === 'ood' ? "'ood'" : "'acc' or 'ece'";
  return new ConfigError([
    {
      path: `${path}.name`,
      message: `${stage} needs ${wanted === 'ood' ? 'an OOD' : 'a classification'} evaluator (${examples}); '${name}' is not one`,
    },
  ]);
}

/** {@link buildEvaluator} for stages that score OOD detection; any other evaluator is a ConfigError. */
export async function buildOodEvaluator(
  registry: ComponentRegistry,
  section: ComponentSection | string | undefined,
  ctx: Omit<BuildContext, 'registry'>,
  stage: string,
  path = 'evaluator',
): Promise<OodEvaluator> {
  const built = await buildEvaluator(registry, section, ctx, { defaultName: 'ood', path });
  if (!(built instanceof OodEvaluator)) throw wrongFamily(section, path, 'ood', stage);
  return built;
}

/** {@link buildEvaluator} for stages that evaluate classifier outputs (test_acc); default `acc`. */
export async function buildClassificationEvaluator(
  registry: ComponentRegistry,
  section: ComponentSection | string | undefined,
  ctx: Omit<BuildContext, 'registry'>,
  stage: string,
  path = 'evaluator',
): Promise<ClassificationEvaluator> {
  const built = await buildEvaluator(registry, section, ctx, { defaultName: 'acc', path });
  if (!isClassificationEvaluator(built)) throw wrongFamily(section, path, 'classification', stage);
  return built;
}
