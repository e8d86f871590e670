export * from './module.js';
export * from './config/sio-config.js';
export * from './stream/train-stream.js';
export * from './stream/sio-stream.js';
export * from './synthetic/array-dataset.js';
export * from './synthetic/npy-pair.js';
