export * from './atomic.js';
export * from './npy.js';
export * from './writable.js';
export * from './process-identity.js';
export * from './lock.js';
