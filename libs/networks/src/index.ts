export * from './module.js';
export { TrunkClassifier, PENULTIMATE_LAYER, featureLayersOf, type TrunkOutput } from './networks/base.js';
export { LeNet, LENET_BLOCKS, lenet, lenetArgs, type LeNetArgs } from './networks/lenet.js';
export {
  ResNet,
  ResNet18,
  RESNET_BLOCKS,
  RESNET_FEATURE_LAYERS,
  lastMapSize,
  type ResNetSpec,
  type ResNet18Spec,
  type ResNetStem,
  type ResNetBlock,
  type ResNetPool,
} from './networks/resnet.js';
export { resnet18_32x32, resnet18_32x32Args } from './networks/resnet18_32x32.js';
export { resnet18_64x64, resnet18_64x64Args } from './networks/resnet18_64x64.js';
export { resnet18_224x224, resnet18_224x224Args } from './networks/resnet18_224x224.js';
export { resnet50, resnet50Args } from './networks/resnet50.js';
export { ParameterStore, torchShapeOf, type TorchLayout, type TorchStateEntry } from './layers/params.js';
export { torchDefaultUniform, kaimingNormalFanOut } from './layers/init.js';
export * from './layers/ops.js';
export { fromTorchLayout, toTorchLayout } from './checkpoint/layout.js';
export {
  loadStateDict,
  loadTorchCheckpoint,
  torchStateDict,
  type TorchStateNetwork,
  type LoadStateDictOptions,
  type LoadStateDictReport,
  type LoadTorchCheckpointOptions,
  type LoadTorchCheckpointReport,
} from './checkpoint/load-state-dict.js';
export { upgradeParameterNames } from './checkpoint/legacy-names.js';
export { checkpointArgs, withCheckpoint } from './checkpoint/pretrained.js';
export {
  GodinNet,
  godinNet,
  godinNetArgs,
  godinNumerators,
  rowNormalize,
  isDecomposedConfidenceNetwork,
  GODIN_H_PARAMETERS,
  GODIN_SIMILARITIES,
  type GodinNetArgs,
  type GodinSimilarity,
  type DecomposedOutput,
  type DecomposedConfidenceNetwork,
} from './networks/godin.js';
export { type InferenceModel, type InferenceOutput, isInferenceModel } from './external/inference-model.js';
export { OnnxModel, assertOnnxSupports, type OnnxModelOptions } from './external/onnx-model.js';
export { findOnnxFinalLayer, type OnnxFinalLayer } from './external/onnx-final-layer.js';
export {
  parseOnnxGraph,
  withExtraOutputs,
  type OnnxGraph,
  type OnnxNode,
  type OnnxValueInfo,
  type OnnxConstant,
} from './external/onnx-graph.js';
export { loadTfjsModel, type TfjsModelOptions } from './external/tfjs-model.js';
export { fileModelIO } from './external/tfjs-file-io.js';
export { BackboneWrapper, backboneArg, buildBackbone } from './networks/backbone-wrapper.js';
export * from './networks/conf_branch.js';
export * from './networks/rot_net.js';
export * from './networks/t2fnorm.js';
export * from './networks/cider_net.js';
export * from './networks/npos_net.js';
