import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import canonicalizeModule from 'canonicalize';
import { LockedError, acquireLock, cleanInterruptedWrites, writeFileAtomic, type Lock, type Logger } from '@oodkit/core';
import { lockPathFor, moveAside } from './run-folder.js';

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
export interface ProductStoreOptions {
  /**
   * How long `produce` waits for a product another live process is making (then reads its result);
   * 0 = fail at once with the holder named. Cells of a scheduled run wait: a duplicate submission
   * finds the product done instead of failing.
   */
  readonly lockWaitMs?: number;
  readonly logger?: Logger;
}

export class ProductStore {
  constructor(
    readonly root: string,
    private readonly options: ProductStoreOptions = {},
  ) {
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

  /** A finished product, or undefined (a cell reading another cell's product does not make it). */
  existing<T>(kind: string, spec: unknown): { result: T; dir: string; key: string } | undefined {
    const key = this.key(kind, spec);
    return this.isDone(key) ? { result: this.result<T>(key), dir: this.dir(key), key } : undefined;
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
    // One writer per product, across processes and hosts (the lock works on NFS: see acquireLock).
    const lock = await this.lock(key);
    try {
      // Made by the holder we waited for.
      if (this.isDone(key)) return { result: this.result<T>(key), dir: finalDir, key, cached: true };
      const workDir = `${finalDir}.work`;
      if (existsSync(join(workDir, DONE))) {
        // Finished, but killed before the publishing rename.
        publish(workDir, finalDir);
        return { result: this.result<T>(key), dir: finalDir, key, cached: true };
      }
      mkdirSync(workDir, { recursive: true });
      // We hold the product's lock: temp files in its work folder are of dead writers.
      cleanInterruptedWrites(workDir, { recursive: true });
      await writeFileAtomic(join(workDir, 'spec.json'), `${JSON.stringify(spec, null, 2)}\n`);
      const result = await make(workDir, key);
      await writeFileAtomic(
        join(workDir, DONE),
        `${JSON.stringify({ key, kind, finishedAt: new Date().toISOString(), result }, null, 2)}\n`,
      );
      publish(workDir, finalDir);
      return { result, dir: finalDir, key, cached: false };
    } finally {
      await lock.release();
    }
  }

  /** The product's lock (`.<key>.lock` beside it), waiting up to `lockWaitMs` for a live holder. */
  private async lock(key: string): Promise<Lock> {
    const path = lockPathFor(this.dir(key));
    const deadline = Date.now() + (this.options.lockWaitMs ?? 0);
    for (;;) {
      try {
        return await acquireLock(path, { purpose: `product ${key}`, logger: this.options.logger });
      } catch (error) {
        if (!(error instanceof LockedError) || Date.now() >= deadline) throw error;
        await new Promise((done) => setTimeout(done, 1000));
      }
    }
  }
}
