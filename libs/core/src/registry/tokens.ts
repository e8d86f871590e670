import type { ContributedDefinition } from './component.js';

/** Multi-injection token: every library's ContainerModule binds its definitions here. */
export const COMPONENT_DEFINITIONS = Symbol.for('oodkit.ComponentDefinitions');
export type ComponentDefinitionsToken = ContributedDefinition;
