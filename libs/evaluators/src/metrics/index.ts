export * from './ranking.js';
export * from './curves.js';
export * from './metrics.js';
export * from './extended.js';
