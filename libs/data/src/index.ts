export * from './module.js';
export * from './sampling/two-source-sampler.js';
