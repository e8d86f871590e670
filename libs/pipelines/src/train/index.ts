export * from './checkpoint.js';
export * from './loop.js';
export * from './data.js';
export * from './pipeline.js';
export * from './restore.js';
