/** @deprecated Moved to `../lifecycle/hyperparameters.ts`; re-exported here for one release. */
export * from '../lifecycle/hyperparameters.js';
