export * from './atomic.js';
export * from './npy.js';
export * from './writable.js';
