export * from './load-plugins.js';
export * from './app-container.js';
