export * from './student-t.js';
export * from './frechet.js';
