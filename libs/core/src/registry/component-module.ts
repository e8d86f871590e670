import { ContainerModule } from 'inversify';
import type { AnyComponentDefinition, ContributedDefinition } from './component.js';
import { COMPONENT_DEFINITIONS } from './tokens.js';

/**
 * The ContainerModule a library (or plugin) exports: it contributes its definitions to the shared
 * multi-injected list, tagged with the provider name so duplicate names can name both sides.
 */
export function componentModule(provider: string, definitions: readonly AnyComponentDefinition[]): ContainerModule {
  return new ContainerModule((options) => {
    for (const definition of definitions) {
      const contribution: ContributedDefinition = { provider, definition };
      options.bind<ContributedDefinition>(COMPONENT_DEFINITIONS).toConstantValue(contribution);
    }
  });
}
