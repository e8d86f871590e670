// What tools (docs generator, scripts) may reuse from the CLI: the built-in modules and the listing helpers.
export { builtinModules } from './modules.js';
export { describeComponent, formatArg, typeOfSchema, type ArgInfo, type ComponentInfo } from './commands/list.js';
// The programmatic API (OpenOOD v1.5's Evaluator): README, "Evaluate your model from code".
export { createEvaluator, type CreateEvaluatorOptions, type OodkitEvaluator } from './api/create-evaluator.js';
