export * from './module.js';
export * from './math/index.js';
