export * from './base-postprocessor.js';
export * from './grid.js';
export * from './hyperparameters.js';
export * from './layered.js';
export * from './wrapper-network.js';
