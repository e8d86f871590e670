import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import canonicalizeModule from 'canonicalize';
import { writeFileAtomic } from '@oodkit/core';
import { moveAside } from './run-folder.js';

/** sha256 of the canonical JSON (RFC 8785) of `spec`: equal configs hash equal whatever their key order. */
// canonicalize is CommonJS with a default export; under NodeNext the import is the module object.
const canonicalize = ((canonicalizeModule as unknown as { default?: typeof canonicalizeModule }).default ??
  canonicalizeModule) as unknown as (input: unknown) => string | undefined;

export function hashSpec(spec: unknown): string {
  const text = canonicalize(spec);
  if (text === undefined) throw new TypeError('cannot hash an undefined spec');
  return createHash('sha256').update(text).digest('hex');
}

const DONE = 'done.json';

/**
 * The one rename that makes a product visible. A final folder without done.json cannot come from
 * this store (it publishes complete folders only); whatever it is, it is moved aside, not deleted.
 */
function publish(workDir: string, finalDir: string): void {
  if (existsSync(finalDir)) moveAside(finalDir);
  renameSync(workDir, finalDir);
}

/**
 * Products (generator samples, checkpoints, features, scores, tables) cached by the hash of the
 * config that made them. A product is built in `<key>.work/` — which survives a kill, so long jobs
 * resume from their own checkpoints there — and becomes `<key>/` by one rename once complete, with
 * `done.json` holding its result. Re-running skips every finished product.
 */
export class ProductStore {
  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }

  key(kind: string, spec: unknown): string {
    return `${kind}-${hashSpec(spec).slice(0, 16)}`;
  }

  dir(key: string): string {
    return join(this.root, key);
  }

  isDone(key: string): boolean {
    return existsSync(join(this.dir(key), DONE));
  }

  result<T>(key: string): T {
    return JSON.parse(readFileSync(join(this.dir(key), DONE), 'utf8')).result as T;
  }

  /**
   * The product's result: read from the cache, or made by `make(workDir)` and then committed.
   * `make` writes its files into workDir and returns a JSON-serialisable result.
   */
  async produce<T>(
    kind: string,
    spec: unknown,
    make: (workDir: string, key: string) => Promise<T>,
  ): Promise<{ result: T; dir: string; key: string; cached: boolean }> {
    const key = this.key(kind, spec);
    const finalDir = this.dir(key);
    if (this.isDone(key)) return { result: this.result<T>(key), dir: finalDir, key, cached: true };
    const workDir = `${finalDir}.work`;
    if (existsSync(join(workDir, DONE))) {
      // Finished, but killed before the publishing rename.
      publish(workDir, finalDir);
      return { result: this.result<T>(key), dir: finalDir, key, cached: true };
    }
    mkdirSync(workDir, { recursive: true });
    await writeFileAtomic(join(workDir, 'spec.json'), `${JSON.stringify(spec, null, 2)}\n`);
    const result = await make(workDir, key);
    await writeFileAtomic(join(workDir, DONE), `${JSON.stringify({ key, kind, finishedAt: new Date().toISOString(), result }, null, 2)}\n`);
    publish(workDir, finalDir);
    return { result, dir: finalDir, key, cached: false };
  }
}
