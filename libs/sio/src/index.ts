export * from './module.js';
export * from './config/sio-config.js';
export * from './stream/sio-stream.js';
export * from './synthetic/npy-pair.js';
export * from './generators/types.js';
export * from './generators/cvae.js';
export * from './generators/cache.js';
export * from './config/sio-section.js';
