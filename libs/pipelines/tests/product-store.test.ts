import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockedError, acquireLock } from '@oodkit/core';
import { ProductStore, lockPathFor } from '../src/index.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'oodkit-product-store-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('product store: one writer per product', () => {
  it('two cells making one product at once: the second waits for the lock and reads the first one’s result', async () => {
    const dir = join(root, 'race');
    const store = new ProductStore(dir, { lockWaitMs: 30_000 });
    let makes = 0;
    const make = async (workDir: string) => {
      makes++;
      await sleep(1500);
      writeFileSync(join(workDir, 'data.txt'), 'x');
      return { value: 42 };
    };
    const [a, b] = await Promise.all([
      store.produce('eval', { k: 1 }, make),
      (async () => (await sleep(100), store.produce('eval', { k: 1 }, make)))(),
    ]);
    expect(makes).toBe(1);
    expect([a.cached, b.cached]).toEqual([false, true]);
    expect(b.result).toEqual({ value: 42 });
    expect(readdirSync(dir).sort()).toEqual([a.key]); // published once, no lock or work folder left
  });

  it('without a wait, a product held by a live process is refused naming the holder; a dead holder’s lock is taken over', async () => {
    const dir = join(root, 'held');
    const store = new ProductStore(dir);
    const key = store.key('train', { k: 2 });
    const held = await acquireLock(lockPathFor(store.dir(key)), { purpose: 'another cell' });
    await expect(store.produce('train', { k: 2 }, async () => 1)).rejects.toBeInstanceOf(LockedError);
    await held.release();
    // a dead process's lock (pid 2^22 + 7 is not running) with a leftover temp file in the work folder
    const lock = lockPathFor(store.dir(key));
    mkdirSync(lock);
    writeFileSync(
      join(lock, 'owner.json'),
      JSON.stringify({
        pid: 4194311,
        host: (await import('node:os')).hostname(),
        bootId: null,
        start: 't1',
        token: 'x',
        purpose: 'p',
        command: '',
        acquiredAt: '',
      }),
    );
    mkdirSync(`${store.dir(key)}.work`, { recursive: true });
    writeFileSync(join(`${store.dir(key)}.work`, '.model.ckpt.4194311-t1.1.tmp'), 'partial');
    const made = await store.produce('train', { k: 2 }, async () => 7);
    expect(made).toMatchObject({ result: 7, cached: false });
    expect(existsSync(lock)).toBe(false);
    expect(readdirSync(store.dir(key)).sort()).toEqual(['done.json', 'spec.json']); // the dead writer's temp file is gone
  });
});
