export * from './component-generator.js';
