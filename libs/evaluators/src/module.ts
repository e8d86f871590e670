import { componentModule, type AnyComponentDefinition } from '@oodkit/core';
import { accEvaluatorDefinition } from './classification/acc-evaluator.js';
import { eceEvaluatorDefinition } from './classification/ece-evaluator.js';
import { oodEvaluatorDefinition } from './ood/ood-evaluator.js';

/** Every component this library registers; add new ones to this list. */
export const evaluatorsDefinitions: readonly AnyComponentDefinition[] = [
  oodEvaluatorDefinition,
  accEvaluatorDefinition,
  eceEvaluatorDefinition,
];

/** The ContainerModule of @oodkit/evaluators: contributes its components to the registries. */
export const evaluatorsModule = componentModule('@oodkit/evaluators', evaluatorsDefinitions);
