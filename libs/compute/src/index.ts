export * from './tf.js';
export * from './module.js';
export * from './backend.js';
export { registerWasmTrainingKernels, wasmTrainingKernels } from './wasm/register.js';
