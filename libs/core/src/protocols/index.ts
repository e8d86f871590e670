export * from './dataset.js';
export * from './network.js';
export * from './postprocessor.js';
export * from './trainer.js';
