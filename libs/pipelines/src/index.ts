export * from './module.js';
export * from './train/index.js';
