export * from './module.js';
export * from './metrics/index.js';
