export * from './atomic.js';
export * from './npy.js';
export * from './checkpoint-tensor.js';
export * from './pickle.js';
export * from './torch-checkpoint.js';
export * from './safetensors.js';
export * from './state-dict.js';
