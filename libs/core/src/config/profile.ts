import type { ConfigSchemaLookup } from './overrides.js';
import type { ConfigSources } from './sources.js';
import { cloneData, isPlainObject, type ConfigObject } from './tree.js';
import type { ParsedConfigFile } from './yaml-file.js';

/**
 * A profile (`--profile quick`) adjusts the settings a config has; it never switches a feature on. Its
 * file is merged after the config's files with two rules: a top-level section the config does not have
 * is skipped (a profile's `sio:` must not turn SIO on for a plain training run), and inside a section a
 * key is set only where the section's schema knows it for the value there (`sio.synthetic.count` applies
 * to a generator source, not to a `.npy` pair). Scalars at the top level (`output_dir`) always apply.
 * Returns the merged config and the profile keys that did not apply.
 */
export function mergeProfile<T extends { value: ConfigObject; sources: ConfigSources }>(
  config: T,
  profile: ParsedConfigFile,
  schema: ConfigSchemaLookup,
): { config: T; skipped: string[] } {
  const value = cloneData(config.value);
  const sources = config.sources.clone();
  const skipped: string[] = [];
  const overlay = (target: ConfigObject, source: ConfigObject, path: string[]) => {
    for (const [key, child] of Object.entries(source)) {
      const at = [...path, key];
      const dotted = at.join('.');
      const existing = target[key];
      if (isPlainObject(child)) {
        const known = isPlainObject(existing) || (existing === undefined && path.length > 0 && schema(at, value) !== undefined);
        if (!known) {
          skipped.push(dotted);
          continue;
        }
        if (!isPlainObject(existing)) {
          target[key] = {};
          sources.set(dotted, profile.sources.get(dotted) ?? { file: 'profile' });
        }
        overlay(target[key] as ConfigObject, child, at);
        continue;
      }
      if (path.length > 0 && schema(at, value) === undefined) {
        skipped.push(dotted);
        continue;
      }
      target[key] = cloneData(child);
      sources.clearBelow(dotted);
      for (const [p, location] of profile.sources.entries()) if (p === dotted || p.startsWith(`${dotted}.`)) sources.set(p, location);
    }
  };
  overlay(value, profile.value, []);
  return { config: { ...config, value, sources }, skipped };
}
