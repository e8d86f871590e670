export * from './atomic.js';
export * from './npy.js';
