import 'reflect-metadata';

export * from './errors/index.js';
export * from './registry/kinds.js';
export * from './registry/component.js';
export * from './registry/build-context.js';
export * from './registry/tokens.js';
export * from './registry/component-module.js';
export * from './registry/registry.js';
export * from './registry/zod-issues.js';
export * from './rng/rng.js';
export * from './logging/logger.js';
export * from './container.js';
export * from './protocols/index.js';
export * from './io/index.js';
export * from './config/index.js';
export * from './plugins/index.js';
