export * from './module.js';
export { TrunkClassifier, type TrunkOutput } from './networks/base.js';
export { LeNet, lenet, lenetArgs, type LeNetArgs } from './networks/lenet.js';
export { ResNet18, type ResNet18Spec, type ResNetStem } from './networks/resnet.js';
export { resnet18_32x32, resnet18_32x32Args } from './networks/resnet18_32x32.js';
export { resnet18_224x224, resnet18_224x224Args } from './networks/resnet18_224x224.js';
export { ParameterStore } from './layers/params.js';
export { torchDefaultUniform, kaimingNormalFanOut } from './layers/init.js';
export * from './layers/ops.js';
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
