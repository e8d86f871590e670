export * from './ranking.js';
export * from './curves.js';
export * from './metrics.js';
