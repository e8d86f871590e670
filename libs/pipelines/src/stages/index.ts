export * from './common.js';
export * from './test-acc.js';
export * from './feat-extract.js';
export * from './model-source.js';
export * from './test-ood.js';
export * from './benchmark.js';
export * from './train-oe.js';
export * from './eval-features.js';
