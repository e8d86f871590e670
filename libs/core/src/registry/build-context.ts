import type { Logger } from '../logging/logger.js';
import type { Rng } from '../rng/rng.js';
import type { ComponentRegistry } from './registry.js';

/** What a factory receives besides its own args. */
export interface BuildContext {
  readonly registry: ComponentRegistry;
  readonly logger: Logger;
  /** A stream derived for this component; derive further streams from it, never share it. */
  readonly rng: Rng;
  /** The whole resolved config, for components that read sibling sections (e.g. dataset.num_classes). */
  readonly config: Readonly<Record<string, unknown>>;
}
