import { splitPath } from './tree.js';

/** Where a config value was last set: a YAML file and 1-based line, or the command line. */
export interface SourceLocation {
  readonly file: string;
  readonly line?: number;
}

export const COMMAND_LINE = 'command line';

/**
 * Source map of a config: for every key path (objects, leaves and list items) the place that last set
 * it. Issues on a path without its own entry are located at the nearest ancestor that has one, so an
 * error inside defaults a component filled in still points at the section that selected it.
 */
export class ConfigSources {
  private readonly byPath = new Map<string, SourceLocation>();

  set(path: string, location: SourceLocation): void {
    this.byPath.set(path, location);
  }

  get(path: string): SourceLocation | undefined {
    return this.byPath.get(path);
  }

  /** Forget `path` and everything below it (the value there is being replaced). */
  clearBelow(path: string): void {
    const prefix = `${path}.`;
    for (const key of [...this.byPath.keys()]) {
      if (key === path || path === '' || key.startsWith(prefix)) this.byPath.delete(key);
    }
  }

  /** The entry for `path` or its nearest ancestor. */
  locate(path: string): SourceLocation | undefined {
    const segments = splitPath(path);
    for (let length = segments.length; length > 0; length--) {
      const found = this.byPath.get(segments.slice(0, length).join('.'));
      if (found) return found;
    }
    return undefined;
  }

  entries(): [string, SourceLocation][] {
    return [...this.byPath.entries()];
  }

  clone(): ConfigSources {
    const copy = new ConfigSources();
    for (const [path, location] of this.byPath) copy.set(path, location);
    return copy;
  }
}
