export * from './tf.js';
export * from './module.js';
export * from './backend.js';
export { registerWasmTrainingKernels, setConvBackpropRoutes, wasmTrainingKernels, type ConvRoute } from './wasm/register.js';
export { batchNormTrain, batchNormTrainComposite, type BatchNormTrainResult } from './ops/batch-norm-train.js';
export { biasRelu } from './ops/bias-relu.js';
