import 'reflect-metadata';
import { Container, type ContainerModule } from 'inversify';
import { ComponentRegistry } from './registry/registry.js';

/** A container holding the registry and every given module's contributions. */
export function createOodkitContainer(modules: readonly ContainerModule[]): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind(ComponentRegistry).toSelf().inSingletonScope();
  container.load(...modules);
  return container;
}

export function registryOf(container: Container): ComponentRegistry {
  return container.get(ComponentRegistry);
}
