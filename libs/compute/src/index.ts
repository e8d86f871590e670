export * from './tf.js';
export * from './module.js';
export * from './backend.js';
export { LINALG_ENV, LINALG_MODES, denseLinalg, linalgSettings, parseLinalgMode, type LinalgMode } from './linalg.js';
export { OnnxLinalg, ROW_STATISTICS_BLOCK_ROWS, SECOND_MOMENT_BLOCK_ROWS } from './onnx/linalg.js';
export { encodeOnnxModel, onnxModelProto, type OnnxNodeSpec, type OnnxValueSpec } from './onnx/proto.js';
export { loadOnnxRuntime, type OnnxRuntimeModule } from './onnx/runtime.js';
export { NORM_FLOOR, l2Normalize, logSumExp } from './ops/rows.js';
export {
  HEAD_STATISTICS,
  RowStatistics,
  type RowStatistic,
  type RowStatisticsResult,
  type RowStatisticsSpec,
} from './ops/row-statistics.js';
export {
  registerWasmTrainingKernels,
  setConvAlgorithms,
  setConvBackpropRoutes,
  setConvForwardRoute,
  wasmTrainingKernels,
  type ConvAlgorithms,
  type ConvRoute,
  type FilterRoute,
  type ForwardRoute,
  type InputRoute,
} from './wasm/register.js';
export { batchNormTrain, batchNormTrainComposite, type BatchNormTrainResult } from './ops/batch-norm-train.js';
export { biasRelu } from './ops/bias-relu.js';
export { rot90, rotationBatch } from './ops/rot90.js';
export {
  relationKernelPower,
  wasmNeighbourIndex,
  wasmRelationBank,
  type WasmNeighbourIndex,
  type WasmRelationBank,
} from './ops/neighbors.js';
export { wasmSymmetricEigen } from './ops/eigen.js';
export { gramPanelIndex, wasmGramAccumulator, type GramAccumulator } from './ops/gram.js';
