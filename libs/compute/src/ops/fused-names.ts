/** Kernel names of oodkit's fused training ops (registered for 'wasm'; other backends use composites). */
export const BATCH_NORM_TRAIN = 'OodkitBatchNormTrain';
export const BATCH_NORM_TRAIN_GRAD = 'OodkitBatchNormTrainGrad';
export const BIAS_RELU = 'OodkitBiasRelu';
export const BIAS_RELU_GRAD = 'OodkitBiasReluGrad';
