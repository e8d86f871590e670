import { componentModule } from '@oodkit/core';
import { necoDefinition } from './neco.js';

export * from './neco.js';

/** The plugin's ContainerModule: `plugins: ['@oodkit/plugin-neco']` (or a path to this folder) loads it. */
export const necoModule = componentModule('@oodkit/plugin-neco', [necoDefinition]);
export default necoModule;
