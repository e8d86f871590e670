export * from './tf.js';
export * from './module.js';
export * from './backend.js';
export { registerWasmTrainingKernels, setConvBackpropRoutes, wasmTrainingKernels, type ConvRoute } from './wasm/register.js';
