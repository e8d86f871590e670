export * from './head.js';
export * from './softmax.js';
export * from './percentile.js';
export * from './eigen.js';
export * from './covariance.js';
export * from './gaussian.js';
export * from './lbfgs.js';
