export * from './oodkit-error.js';
export * from './suggest.js';
